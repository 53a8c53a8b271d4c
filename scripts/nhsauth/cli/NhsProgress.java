package nhsauth.cli;

import java.io.*;
import java.lang.ProcessBuilder.Redirect;
import java.nio.file.*;
import java.util.Locale;

/**
 * A spinner line on stderr while slow work runs (a large key's prime search): the label and the seconds
 * so far, redrawn in place and wiped at the end; only where a person watches (the process's stderr, a terminal).
 */
public final class NhsProgress implements AutoCloseable {
    private static final long FRAME_MILLIS = 125;
    private static final String FRAMES = "|/-\\";

    private final PrintWriter err;
    private final String label;
    private final long started = System.nanoTime();
    private final Thread ticker;
    private int drawn;

    private NhsProgress(PrintWriter err, String label) {
        this.err = err;
        this.label = label;
        if (err == null) {
            ticker = null;
        } else {
            // The first frame is drawn before start returns, so the line is there as the work begins.
            draw(0);
            ticker = new Thread(this::tick, "progress");
            ticker.setDaemon(true);
            ticker.start();
        }
    }

    /** Shows {@code label} until {@link #close()}: as {@code forced} says (tests, the demo), else if a person watches. */
    public static NhsProgress start(PrintWriter err, Boolean forced, String label) {
        boolean shown = forced != null ? forced : err == NhsCli.processErr && stderrIsTerminal();
        return new NhsProgress(shown ? err : null, label);
    }

    /** Whether fd 2 is a terminal: {@code System.console()} tells of stdin and stdout ({@code > keys.json}), not stderr. */
    private static boolean stderrIsTerminal() {
        if ("dumb".equals(System.getenv("TERM"))) {
            return false; // a terminal that cannot return to the start of a line
        }
        Path fd = Path.of("/proc/self/fd/2");
        if (Files.exists(fd, LinkOption.NOFOLLOW_LINKS)) {
            try {
                String target = Files.readSymbolicLink(fd).toString();
                return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty") || target.equals("/dev/console");
            } catch (IOException | UnsupportedOperationException e) {
                return false;
            }
        }
        if (System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("windows")) {
            return System.console() != null;
        }
        // Elsewhere (macOS, the BSDs) the shell's test -t asks the terminal driver about the fd it inherits.
        try {
            Process test = new ProcessBuilder("sh", "-c", "[ -t 2 ]").redirectInput(Redirect.PIPE)
                    .redirectOutput(Redirect.DISCARD).redirectError(Redirect.INHERIT).start();
            test.getOutputStream().close();
            return test.waitFor() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private void tick() {
        for (int frame = 1; ; frame++) {
            try {
                Thread.sleep(FRAME_MILLIS);
            } catch (InterruptedException e) {
                return;
            }
            draw(frame);
        }
    }

    private synchronized void draw(int frame) {
        long seconds = (System.nanoTime() - started) / 1_000_000_000L;
        String line = FRAMES.charAt(frame % FRAMES.length()) + " " + label + "... " + seconds + " s";
        err.print("\r" + line + " ".repeat(Math.max(0, drawn - line.length())));
        err.flush();
        drawn = Math.max(drawn, line.length());
    }

    @Override
    public void close() {
        if (ticker == null) {
            return;
        }
        ticker.interrupt();
        try {
            ticker.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (this) {
            err.print("\r" + " ".repeat(drawn) + "\r");
            err.flush();
        }
    }
}
