package nhsauth.client;

/** A failure the user can act on; its message is one line that names the problem and the fix. */
public class NhsAuthException extends RuntimeException {
    private final int exitCode;
    private final String hint;

    public NhsAuthException(int exitCode, String message, Throwable cause) {
        this(exitCode, message, null, cause);
    }

    public NhsAuthException(int exitCode, String message, String hint, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
        this.hint = hint;
    }

    /** The process exit code this failure maps to. */
    public int exitCode() {
        return exitCode;
    }

    /** The message, with settings named as a library user sets them. */
    @Override
    public String getMessage() {
        return message(NhsSetting.LIBRARY);
    }

    /** The message, with settings named as a command user sets them: options and variables. */
    public String commandLineMessage() {
        return message(NhsSetting.COMMAND_LINE);
    }

    String message(NhsSetting.Words names) {
        return NhsSetting.render(super.getMessage(), names);
    }

    /** What to do about it, when there is more to say than the message; null otherwise. */
    public String hint() {
        return hint(NhsSetting.LIBRARY);
    }

    /** The hint, with settings named as a command user sets them. */
    public String commandLineHint() {
        return hint(NhsSetting.COMMAND_LINE);
    }

    String hint(NhsSetting.Words names) {
        return NhsSetting.render(hint, names);
    }
}
