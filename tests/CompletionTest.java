import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.MatchResult;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine;

/**
 * The command line's surface: nhs-auth completion bash|zsh, a script that a real shell loads and that
 * knows every command; --help as an 80-column terminal shows it; unknown commands.
 */
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
                "jwks", "mock-server", "demo", "cache", "completion")), commands.toString());
        assertEquals(commands, candidates(script, "nhs-auth "));
        assertEquals(Set.of("clear"), candidates(script, "nhs-auth cache "));
        assertEquals(Set.of("list", "remove"), candidates(script, "nhs-auth jwks "));
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

    // ------------------------------------------------------------------ help

    /** Every --help, the umbrella's and each command's, laid out {@code width} columns wide. */
    static Map<String, String> helps(int width) {
        Map<String, String> helps = new LinkedHashMap<>();
        collectHelp(NhsCli.commandLine(new NhsAuth()), width, helps);
        return helps;
    }

    private static void collectHelp(CommandLine cl, int width, Map<String, String> into) {
        cl.setUsageHelpWidth(width);
        into.put(cl.getCommandSpec().qualifiedName(), cl.getUsageMessage(CommandLine.Help.Ansi.OFF));
        cl.getSubcommands().values().forEach(sub -> collectHelp(sub, width, into));
    }

    /** A URL, a path or a file name: what a user copies from help. */
    static final Pattern COPIED = Pattern.compile("[^\\s(]*(?:/|\\\\|\\.(?:pem|json|xml|pub)\\b)[^\\s,;)]*");

    /** How often each URL, path or file name is whole on one line. */
    static Map<String, Long> copied(String help) {
        return help.lines().flatMap(line -> COPIED.matcher(line).results().map(MatchResult::group))
                .collect(Collectors.groupingBy(s -> s.replaceAll("[.:]$", ""), Collectors.counting()));
    }

    @Test
    void helpFitsEightyColumnsAndNeverSplitsAUrlOrPath() {
        Map<String, String> wide = helps(1000);
        Map<String, String> narrow = helps(80);
        assertEquals(wide.keySet(), narrow.keySet());
        assertTrue(narrow.keySet().containsAll(List.of("nhs-auth", "nhs-auth call-api", "nhs-auth cache clear")),
                narrow.keySet().toString());
        for (String command : narrow.keySet()) {
            String help = narrow.get(command);
            help.lines().forEach(line -> assertTrue(line.length() <= 80, () -> command + " --help, line over 80 columns:\n"
                    + line + "\n" + help));
            assertEquals(copied(wide.get(command)), copied(help), () -> command + " --help splits a URL or path:\n" + help);
        }
        assertTrue(copied(narrow.get("nhs-auth call-api")).containsKey("https://int.api.service.nhs.uk/hello-world/hello/application"),
                "the examples' URL is among those checked");
        assertTrue(copied(narrow.get("nhs-auth get-token")).containsKey("~/.cache/nhs-auth"), "and the cache's paths");
    }

    @Test
    void exitCodesAreOneListInEveryHelpAndTheReadmeTableHasTheSameCodes() throws Exception {
        CommandLine umbrella = NhsCli.commandLine(new NhsAuth());
        Map<String, String> codes = umbrella.getCommandSpec().usageMessage().exitCodeList();
        assertEquals(List.of("0", "1", "2", "3", "4", "5", "23", "130"), List.copyOf(codes.keySet()));
        for (CommandLine command : umbrella.getSubcommands().values()) {
            assertEquals(codes, command.getCommandSpec().usageMessage().exitCodeList(), command.getCommandName());
            assertTrue(command.getUsageMessage(CommandLine.Help.Ansi.OFF).contains("\n  130   interrupted (Ctrl-C)"));
        }
        String readme = Files.readString(TestSupport.repoRoot().resolve("README.md"));
        String table = readme.substring(readme.indexOf("## Exit codes"), readme.indexOf("\n## ", readme.indexOf("## Exit codes")));
        assertEquals(codes.keySet(), Pattern.compile("(?m)^\\| (\\d+) \\|").matcher(table).results()
                .map(m -> m.group(1)).collect(Collectors.toCollection(java.util.LinkedHashSet::new)));
    }

    @Test
    void verifyKeysHelpNamesTheExitCodeOfAJwksUrlThatFails() {
        Path pem = TestFixture.key(dir, "vk-1");
        TestSupport.runInProcess(new VerifyKeys(), "--private-key", pem.toString(), "--jwks",
                "https://127.0.0.1:" + TestSupport.refusedPort() + "/jwks.json").assertOneLineErrorWithHint(5, "JWKS URL");
        String description = String.join(" ", NhsCli.commandLine(new VerifyKeys()).getCommandSpec().usageMessage()
                .description());
        assertTrue(description.contains("exit 5 when a JWKS URL"), description);
    }

    // ------------------------------------------------------------------ unknown commands and options

    @Test
    void aMistypedCommandOrOptionIsOneLineNamingTheClosest() {
        TestSupport.Result command = TestSupport.runInProcess(new NhsAuth(), "get-tokens").assertOneLineError(2,
                "nhs-auth: unknown command 'get-tokens': did you mean get-token?", "(see 'nhs-auth --help')");
        assertFalse(command.err().contains("Unmatched"), command.err());
        TestSupport.runInProcess(new NhsAuth(), "verify-key", "--jwks", "x").assertOneLineError(2,
                "unknown command 'verify-key': did you mean verify-keys?");
        TestSupport.runInProcess(new NhsAuth(), "cache", "clea").assertOneLineError(2,
                "nhs-auth cache: unknown command 'clea': did you mean clear?");
        TestSupport.runInProcess(new NhsAuth(), "get-token", "--api-kye", "k").assertOneLineError(2,
                "nhs-auth get-token: unknown option '--api-kye': did you mean --api-key?");
        TestSupport.runInProcess(new GetToken(), "--tokne-cache").assertOneLineError(2,
                "unknown option '--tokne-cache': did you mean one of", "--token-cache");
        // The value of a mistyped option, or the word after it, may be a secret: neither is repeated.
        for (String[] args : List.of(new String[] {"--apikey=S3CRETKEY"}, new String[] {"--passphrase", "S3CRETKEY"},
                new String[] {"--zzz=S3CRETKEY"})) {
            TestSupport.Result r = TestSupport.runInProcess(new GetToken(), args).assertOneLineError(2,
                    "unknown option '" + args[0].split("=")[0] + "'");
            assertFalse(r.err().contains("S3CRET"), r.err());
        }
    }

    // ------------------------------------------------------------------ the README's library table

    /** How a type reads in the table: simple names, nested ones by their outer type, generics dropped. */
    static String typeName(String written) {
        String raw = written.replaceAll("<.*>", "").trim();
        return raw.substring(raw.lastIndexOf('.') + 1);
    }

    /** A method as {@code Type.name(ParamType, ...) -> ReturnType}, from a README row or from the class. */
    static String signature(String type, String name, List<String> params, String returns) {
        return type + "." + name + "(" + String.join(", ", params) + ") -> " + returns;
    }

    @Test
    void theReadmesLibraryTableHasARowForEveryPublicMethodWithItsReturnType() throws Exception {
        Set<String> api = new TreeSet<>();
        try (var files = Files.list(TestSupport.repoRoot().resolve("scripts/nhsauth/client"))) {
            for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
                if (!Files.readString(file).contains("\npublic ")) {
                    continue;
                }
                Class<?> top = Class.forName("nhsauth.client." + file.getFileName().toString().replace(".java", ""));
                List<Class<?>> types = new java.util.ArrayList<>(List.of(top));
                Arrays.stream(top.getDeclaredClasses()).filter(c -> java.lang.reflect.Modifier.isPublic(c.getModifiers()))
                        .forEach(types::add);
                for (Class<?> type : types) {
                    String typeName = type == top ? top.getSimpleName() : top.getSimpleName() + "." + type.getSimpleName();
                    for (java.lang.reflect.Method m : type.getDeclaredMethods()) {
                        boolean objects = Set.of("toString", "equals", "hashCode").contains(m.getName())
                                || type.isEnum() && Set.of("values", "valueOf").contains(m.getName());
                        if (java.lang.reflect.Modifier.isPublic(m.getModifiers()) && !m.isSynthetic() && !objects) {
                            api.add(signature(typeName, m.getName(), Arrays.stream(m.getParameterTypes())
                                    .map(Class::getSimpleName).toList(), m.getReturnType().getSimpleName()));
                        }
                    }
                }
            }
        }
        String readme = Files.readString(TestSupport.repoRoot().resolve("README.md"));
        String section = readme.substring(readme.indexOf("### Library API"), readme.indexOf("\n## ", readme.indexOf("### Library API")));
        Set<String> rows = new TreeSet<>();
        Matcher row = Pattern.compile("(?m)^\\| `([\\w.]+)\\.(\\w+)\\(([^)]*)\\)` \\| `([^`]+)` \\|").matcher(section);
        while (row.find()) {
            // Parameters are "Type name", split at the commas outside generics.
            List<String> params = row.group(3).isBlank() ? List.of() : Arrays.stream(row.group(3).split(",(?![^<]*>)"))
                    .map(p -> typeName(p.trim().substring(0, p.trim().lastIndexOf(' ')))).toList();
            assertTrue(rows.add(signature(row.group(1), row.group(2), params, typeName(row.group(4)))), row.group());
        }
        assertEquals(api, rows, "the README's library table, one row per public method with its return type");
    }
}
