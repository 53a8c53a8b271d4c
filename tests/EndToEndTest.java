import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.io.TempDir;

/** The catalog aliases run through ./jbang in a scratch folder, exactly as a user runs them. */
class EndToEndTest {

    @TempDir
    Path scratch;

    String catalog() {
        return "@" + TestSupport.repoRoot();
    }

    @Test
    void generateKeysThroughTheCatalogWritesAVerifiableKeyAndRefusesASecondRun() throws Exception {
        TestSupport.Result r = TestSupport.jbang(scratch, Map.of(), "generate-keys" + catalog(),
                "--output-dir", "keys", "--key-size", "2048").assertOk();
        assertEquals("", r.out());
        Path pem = scratch.resolve("keys/int-1.pem");
        assertEquals("rw-------", TestSupport.posixMode(pem));
        if (Files.isExecutable(Path.of("/usr/bin/openssl"))) {
            TestSupport.process(scratch, Map.of(), null, List.of("openssl", "rsa", "-check", "-noout", "-in", pem.toString()))
                    .assertOk();
            String modulus = TestSupport.process(scratch, Map.of(), null,
                    List.of("openssl", "rsa", "-modulus", "-noout", "-in", pem.toString())).assertOk().out().trim();
            var jwk = (com.nimbusds.jose.jwk.RSAKey) com.nimbusds.jose.jwk.JWKSet.load(scratch.resolve("keys/int-1.json").toFile())
                    .getKeys().get(0);
            assertEquals(modulus.substring("Modulus=".length()).toLowerCase(),
                    jwk.getModulus().decodeToBigInteger().toString(16));
        }
        List<byte[]> before = read(scratch.resolve("keys"), "int-1.pem", "int-1.pem.pub", "int-1.json");
        TestSupport.jbang(scratch, Map.of(), "generate-keys" + catalog(), "--output-dir", "keys", "--key-size", "2048")
                .assertOneLineError(2, "already exists");
        List<byte[]> after = read(scratch.resolve("keys"), "int-1.pem", "int-1.pem.pub", "int-1.json");
        for (int i = 0; i < before.size(); i++) {
            assertArrayEquals(before.get(i), after.get(i));
        }
    }

    @Test
    void umbrellaAndAliasBehaveIdentically() throws Exception {
        TestSupport.Result alias = TestSupport.jbang(scratch, Map.of(), "generate-keys" + catalog(),
                "--output-dir", "a", "--kid", "k", "--key-size", "2048").assertOk();
        TestSupport.Result umbrella = TestSupport.jbang(scratch, Map.of(), "nhs-auth" + catalog(), "generate-keys",
                "--output-dir", "b", "--kid", "k", "--key-size", "2048").assertOk();
        assertEquals(normalise(alias.err(), "a"), normalise(umbrella.err(), "b"));
        for (String f : List.of("k.pem", "k.pem.pub", "k.json")) {
            assertTrue(Files.exists(scratch.resolve("b").resolve(f)), f);
        }
        TestSupport.Result aliasErr = TestSupport.jbang(scratch, Map.of(), "generate-keys" + catalog(), "--env", "nope");
        TestSupport.Result umbrellaErr = TestSupport.jbang(scratch, Map.of(), "nhs-auth" + catalog(), "generate-keys",
                "--env", "nope");
        aliasErr.assertOneLineError(2, "unknown environment 'nope'");
        umbrellaErr.assertOneLineError(2, "unknown environment 'nope'");
        assertEquals(normalise(aliasErr.err(), "a").replace("generate-keys", "X"),
                normalise(umbrellaErr.err(), "b").replace("nhs-auth generate-keys", "X"));
    }

    @Test
    void optionsComeFromTheEnvironmentAndTheKeyIsOwnerOnlyWhateverTheUmask() throws Exception {
        List<String> cmd = new ArrayList<>(List.of("/bin/sh", "-c",
                "umask 000 && exec \"$0\" \"$1\" --key-size 2048",
                TestSupport.repoRoot().resolve("jbang").toString(), "generate-keys" + catalog()));
        TestSupport.process(scratch, Map.of("NHS_ENV", "dev", "NHS_OUTPUT_DIR", "from-env"), null, cmd).assertOk();
        assertEquals("rw-------", TestSupport.posixMode(scratch.resolve("from-env/dev-1.pem")));
        assertEquals("rw-r--r--", TestSupport.posixMode(scratch.resolve("from-env/dev-1.json")));
    }

    @Test
    void plainAliasWorksInsideTheRepository() throws Exception {
        TestSupport.jbang(TestSupport.repoRoot(), Map.of(), "generate-keys", "--output-dir", scratch.toString(),
                "--key-size", "2048", "--format", "json").assertOk();
        assertTrue(Files.exists(scratch.resolve("int-1.pem")));
    }

    /**
     * The remote form users copy from a runbook, {@code nhs-auth@<catalog URL>}: JBang fetches the
     * catalog, the umbrella and every packaged {@code //SOURCES} file (client, picocli glue, mock)
     * relative to their URLs. The repository is served on loopback to a JBang home of its own.
     */
    @Test
    void theUmbrellaRunsFromACatalogServedOverHttp() throws Exception {
        Path root = TestSupport.repoRoot();
        List<String> served = new java.util.concurrent.CopyOnWriteArrayList<>();
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> {
            Path file = root.resolve(exchange.getRequestURI().getPath().substring(1)).normalize();
            boolean ok = file.startsWith(root) && Files.isRegularFile(file);
            byte[] body = ok ? Files.readAllBytes(file) : new byte[0];
            served.add(exchange.getRequestURI().getPath());
            exchange.sendResponseHeaders(ok ? 200 : 404, body.length == 0 ? -1 : body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.start();
        try {
            String base = "http://127.0.0.1:" + server.getAddress().getPort() + "/";
            Map<String, String> env = Map.of("JBANG_DIR", scratch.resolve("jbang home").toString());
            TestSupport.jbang(scratch, env, "trust", "add", base).assertOk();
            TestSupport.jbang(scratch, env, "nhs-auth@" + base + "jbang-catalog.json", "generate-keys",
                    "--output-dir", "keys", "--key-size", "2048").assertOk();
            assertTrue(Files.exists(scratch.resolve("keys/int-1.json")));
            for (String source : List.of("/scripts/nhsauth/client/NhsClient.java", "/scripts/nhsauth/client/NhsKeys.java",
                    "/scripts/nhsauth/cli/NhsCli.java", "/scripts/nhsauth/mock/MockIdentityService.java")) {
                assertTrue(served.contains(source), source + " was fetched over http: " + served);
            }
        } finally {
            server.stop(0);
        }
    }

    private static String normalise(String stderr, String dir) {
        return stderr.lines().filter(l -> !TestSupport.isLaunchersTalk(l) && !l.startsWith("Thumbprint"))
                .map(l -> l.replace(dir + "/", "DIR/")).reduce("", (a, b) -> a + b + "\n");
    }

    private static List<byte[]> read(Path dir, String... names) throws Exception {
        List<byte[]> all = new ArrayList<>();
        for (String n : names) {
            all.add(Files.readAllBytes(dir.resolve(n)));
        }
        return all;
    }
}
