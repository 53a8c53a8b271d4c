import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bad value from an NHS_* variable is reported under the variable's name: the user did not type
 * it, so an error naming only the option sends them looking at a command line that does not have
 * it. Real processes, since a JVM cannot change its own environment.
 */
class EnvironmentValuesTest {

    @TempDir
    static Path scratch;
    static Path pem;
    static FakeServer tokenEndpoint;

    @BeforeAll
    static void keyAndServer() throws Exception {
        pem = TestFixture.key(scratch, "env-kid");
        tokenEndpoint = new FakeServer(r -> FakeServer.Reply.token("env-token"));
    }

    @AfterAll
    static void stop() {
        tokenEndpoint.close();
    }

    static TestSupport.Result run(Map<String, String> env, String command, String... args) {
        List<String> all = new ArrayList<>(List.of(command + "@" + TestSupport.repoRoot()));
        all.addAll(List.of(args));
        return TestSupport.jbang(scratch, env, all.toArray(String[]::new));
    }

    /** get-token's variables, good but for the ones a test changes. */
    static Map<String, String> getTokenEnv(String... pairs) {
        Map<String, String> env = new HashMap<>(Map.of("NHS_API_KEY", "k", "NHS_PRIVATE_KEY", pem.toString(),
                "NHS_TOKEN_URL", tokenEndpoint.url("/oauth2/token")));
        for (int i = 0; i < pairs.length; i += 2) {
            env.put(pairs[i], pairs[i + 1]);
        }
        return env;
    }

    @Test
    void aConversionErrorNamesTheVariableTheValueCameFrom() {
        run(getTokenEnv("NHS_ENV", "bogus"), "get-token").assertOneLineError(2, "'--env' from NHS_ENV",
                "unknown environment 'bogus'", "use one of prod, int");
        run(Map.of("NHS_KEY_SIZE", "big"), "generate-keys", "--output-dir", "k1").assertOneLineError(2,
                "'--key-size' from NHS_KEY_SIZE", "'big' is not an int");
    }

    @Test
    void theCommandLineWinsAndATypedBadValueIsNotBlamedOnTheVariable() {
        run(getTokenEnv("NHS_ENV", "bogus"), "get-token", "--env", "int", "--format", "token").assertOk();
        TestSupport.Result typed = run(getTokenEnv("NHS_ENV", "int"), "get-token", "--env=bogus")
                .assertOneLineError(2, "unknown environment 'bogus'");
        assertFalse(typed.err().contains("NHS_ENV"), typed.err());
    }

    @Test
    void theCommandsOwnChecksNameTheVariableToo() {
        run(getTokenEnv("NHS_TIMEOUT", "0"), "get-token").assertOneLineError(2,
                "NHS_TIMEOUT '0' must be more than 0 and at most 3600 seconds");
        run(Map.of("NHS_KID", "-x"), "generate-keys", "--output-dir", "k2", "--key-size", "2048")
                .assertOneLineError(2, "invalid kid '-x' from NHS_KID", "not starting with '-'");
        run(Map.of("NHS_KEY_SIZE", "1024"), "generate-keys", "--output-dir", "k3").assertOneLineError(2,
                "NHS_KEY_SIZE 1024 is out of range");
        TestSupport.Result typed = run(getTokenEnv("NHS_TIMEOUT", "30"), "get-token", "--timeout", "0")
                .assertOneLineError(2, "--timeout '0' must be more than 0");
        assertFalse(typed.err().contains("NHS_TIMEOUT"), typed.err());
    }

    @Test
    void anEmptyNhsKidIsUnsetWhileATypedEmptyKidIsRefused() {
        TestSupport.Result unset = run(getTokenEnv("NHS_KID", ""), "get-token", "--format", "token").assertOk();
        assertTrue(unset.err().contains("using kid 'env-kid'"), unset.err());
        run(getTokenEnv(), "get-token", "--kid=").assertOneLineError(2, "--kid '' is empty");
    }
}
