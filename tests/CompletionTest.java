import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** nhs-auth completion bash|zsh: a script that a real shell loads and that knows every command. */
class CompletionTest {

    @TempDir
    Path dir;

    /** The words bash's completion offers for {@code line} (a trailing space completes a new word). */
    static Set<String> candidates(Path script, String line) {
        TestSupport.Result r = TestSupport.process(script.getParent(), Map.of(), null, List.of("bash", "-c",
                "source \"$1\"; read -ra COMP_WORDS <<< \"$2\"; [[ \"$2\" == *' ' ]] && COMP_WORDS+=('');"
                        + " COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMP_LINE=\"$2\"; COMP_POINT=${#COMP_LINE};"
                        + " _complete_nhs-auth 2>/dev/null; printf '%s\\n' \"${COMPREPLY[@]}\"",
                "_", script.toString(), line)).assertOk();
        return new TreeSet<>(r.out().lines().map(String::trim).filter(s -> !s.isEmpty()).toList());
    }

    Path bashScript() throws Exception {
        TestSupport.Result r = TestSupport.runInProcess(new NhsAuth(), "completion", "bash").assertOk();
        assertEquals("", r.err());
        return Files.writeString(dir.resolve("nhs-auth.bash"), r.out());
    }

    @Test
    void theBashScriptLoadsAndKnowsEveryCommandEnvironmentPatternAndFormat() throws Exception {
        Path script = bashScript();
        TestSupport.Result loaded = TestSupport.process(dir, Map.of(), null,
                List.of("bash", "-c", "set -euo pipefail; source \"$1\"; complete -p nhs-auth", "_", script.toString()))
                .assertOk();
        assertTrue(loaded.out().contains("_complete_nhs-auth") && loaded.out().trim().endsWith("nhs-auth"), loaded.out());

        Set<String> commands = new TreeSet<>(NhsCli.commandLine(new NhsAuth()).getSubcommands().keySet());
        assertTrue(commands.containsAll(Set.of("generate-keys", "get-token", "call-api", "verify-keys", "doctor",
                "mock-server", "demo", "cache", "completion")), commands.toString());
        assertEquals(commands, candidates(script, "nhs-auth "));
        assertEquals(Set.of("clear"), candidates(script, "nhs-auth cache "));
        assertEquals(new TreeSet<>(Arrays.stream(NhsEnvironment.values()).map(NhsEnvironment::id).toList()),
                candidates(script, "nhs-auth get-token --env "));
        assertEquals(Set.of("signed-jwt", "api-key", "none"), candidates(script, "nhs-auth call-api --auth "));
        assertEquals(Set.of("signed-jwt", "api-key", "none"), candidates(script, "nhs-auth doctor --auth "));
        assertEquals(Set.of("text", "token", "json"), candidates(script, "nhs-auth get-token --format "));
        assertEquals(Set.of("text", "json"), candidates(script, "nhs-auth doctor --format "));
        assertEquals(Set.of("bash", "zsh"), candidates(script, "nhs-auth completion "));
        assertTrue(candidates(script, "nhs-auth doctor --").containsAll(Set.of("--jwks", "--url", "--auth", "--cacert")),
                "options complete too");
    }

    @Test
    void throughTheLauncherAsTheReadmeShowsIt() {
        TestSupport.Result r = TestSupport.process(dir, Map.of(), null, List.of("bash", "-c",
                "set -euo pipefail; source <(\"$1\" nhs-auth@\"$2\" completion bash); complete -p nhs-auth",
                "_", TestSupport.repoRoot().resolve("jbang").toString(), TestSupport.repoRoot().toString())).assertOk();
        assertTrue(r.out().contains("-F _complete_nhs-auth"), r.out() + r.err());
    }

    @Test
    void theZshScriptLoadsThroughBashcompinit() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/zsh")) || Files.isExecutable(Path.of("/bin/zsh")),
                "zsh is not installed");
        TestSupport.Result r = TestSupport.runInProcess(new NhsAuth(), "completion", "zsh").assertOk();
        assertTrue(r.out().startsWith("autoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n"),
                r.out().lines().limit(3).toList().toString());
        Path script = Files.writeString(dir.resolve("nhs-auth.zsh"), r.out());
        // compinit keeps its dump in $HOME: a scratch home keeps the user's untouched.
        TestSupport.Result loaded = TestSupport.process(dir, Map.of("HOME", dir.toString()), null,
                List.of("zsh", "-f", "-c", "source \"$1\" && complete -p nhs-auth", "_", script.toString())).assertOk();
        assertTrue(loaded.out().contains("_complete_nhs-auth"), loaded.out() + loaded.err());
    }

    @Test
    void anotherShellIsOneLineExit2() {
        TestSupport.runInProcess(new NhsAuth(), "completion", "fish").assertOneLineError(2, "'fish'", "bash or zsh");
        TestSupport.runInProcess(new NhsAuth(), "completion").assertOneLineError(2, "SHELL");
    }
}
