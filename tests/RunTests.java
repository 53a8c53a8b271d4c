///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS org.junit.platform:junit-platform-launcher:1.14.1
//DEPS org.junit.jupiter:junit-jupiter-engine:5.14.1
//DEPS org.junit.jupiter:junit-jupiter-params:5.14.1
//SOURCES ../scripts/NhsAuth.java
//SOURCES TestSupport.java
//SOURCES TestFixture.java
//SOURCES GenerateKeysTest.java
//SOURCES EndToEndTest.java
//SOURCES LauncherTest.java
//SOURCES FakeServer.java
//SOURCES GetTokenTest.java
//SOURCES TokenExchangeTest.java
//SOURCES KeyFormatsTest.java
//SOURCES CallApiTest.java
//SOURCES VerifyKeysTest.java
//SOURCES InspectTest.java
//SOURCES JwksTest.java
//SOURCES TokenCacheTest.java
//SOURCES nhsauth/client/NhsTokenCacheTest.java
//SOURCES nhsauth/client/NhsTokenEndpointTest.java
//SOURCES nhsauth/client/NhsProxiesTest.java
//SOURCES nhsauth/client/WindowsFilesTest.java
//SOURCES ReadmeTest.java
//SOURCES MockServerTest.java
//SOURCES MockPageTest.java
//SOURCES BadInputMatrixTest.java
//SOURCES FaultsTest.java
//SOURCES KillMidWriteTest.java
//SOURCES SecretsTest.java
//SOURCES MockServerLoadTest.java
//SOURCES LibraryTest.java
//SOURCES ProxyTest.java
//SOURCES HardeningTest.java
//SOURCES ForwardProxy.java
//SOURCES TestTls.java
//SOURCES TestInfraTest.java
//SOURCES RunTestsTest.java
//SOURCES AuthPatternsTest.java
//SOURCES DoctorTest.java
//SOURCES CompletionTest.java
//SOURCES ProgressTest.java
//SOURCES EnvironmentValuesTest.java
//SOURCES StdoutTest.java
//DESCRIPTION Runs every nhs-auth test and ends with the line 'N passed, N failed'

import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClasspathRoots;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.junit.platform.engine.DiscoverySelector;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TagFilter;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.TestPlan;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/**
 * The test command: {@code ./jbang tests/RunTests.java [ClassName | ClassName#method ...]}.
 * With no argument it runs every test class compiled into this script.
 */
public class RunTests {

    static final String USAGE = "usage: ./jbang tests/RunTests.java [-h | --help] [ClassName | ClassName#method ...]";

    /** Tag of the runner's own sample classes, run only by RunTestsTest's inner launcher, never by a test run. */
    static final String SAMPLE_TAG = "runner-sample";

    /**
     * JUnit reports through java.util.logging, e.g. a WARNING for each symbolic link a @TempDir
     * cleanup deletes: noise among the results. Held here because JUL keeps loggers only weakly,
     * so a level set on an unreferenced logger can be lost.
     */
    private static final Logger JUNIT_LOGGING = Logger.getLogger("org.junit");

    public static void main(String... args) throws Exception {
        PrintWriter out = new PrintWriter(System.out, true);
        Integer early = checkArguments(List.of(args), out, new PrintWriter(System.err, true));
        if (early != null) {
            System.exit(early);
        }
        JUNIT_LOGGING.setLevel(Level.SEVERE);
        // The JDK's HTTP server reads this once, when the JVM's first server starts, whichever test
        // starts it: without it every reply of a loopback server waits on Nagle and a delayed ACK.
        System.setProperty("sun.net.httpserver.nodelay", "true");
        Path root = TestSupport.repoRoot();
        // Build every catalog alias once, one after another: JBang's dependency cache is not safe
        // under concurrent first builds, and a broken script-ref fails here, loudly.
        int buildFailures = TestSupport.buildCatalogAliases(root, out);

        List<DiscoverySelector> selectors = new ArrayList<>();
        for (String arg : args) {
            selectors.add(arg.contains("#") ? selectMethod(arg) : selectClass(arg));
        }
        if (selectors.isEmpty()) {
            Path compiled = Path.of(RunTests.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            selectors.addAll(selectClasspathRoots(Set.of(compiled)));
        }
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request()
                .selectors(selectors)
                .filters(TagFilter.excludeTags(SAMPLE_TAG))
                .configurationParameter("junit.jupiter.execution.parallel.enabled", "true")
                .configurationParameter("junit.jupiter.execution.parallel.mode.default", "same_thread")
                .configurationParameter("junit.jupiter.execution.parallel.mode.classes.default", "concurrent")
                .configurationParameter("junit.jupiter.execution.parallel.config.strategy", "fixed")
                .configurationParameter("junit.jupiter.execution.parallel.config.fixed.parallelism", "3")
                .build();
        Launcher launcher = LauncherFactory.create();
        Tally tally = new Tally();
        launcher.execute(request, tally, new Progress(out));

        tally.printFailures(out);
        out.println();
        out.println(tally.summary(buildFailures));
        out.flush();
        System.exit(tally.exitCode(buildFailures));
    }

    /**
     * Handles options: {@code -h} / {@code --help} print the usage line (exit 0), any other
     * argument starting with '-' is a usage error (exit 2); null means "run the tests".
     */
    static Integer checkArguments(List<String> args, PrintWriter out, PrintWriter err) {
        for (String arg : args) {
            if (arg.equals("-h") || arg.equals("--help")) {
                out.println(USAGE);
                out.flush();
                return 0;
            }
        }
        for (String arg : args) {
            if (arg.startsWith("-")) {
                err.println("RunTests: unknown option '" + arg + "'");
                err.println(USAGE);
                err.flush();
                return 2;
            }
        }
        return null;
    }

    /**
     * Counts results for the summary line. A skipped test counts once; a skipped class (or other
     * container) counts each test in it, a parameterized or factory method as one, and at least one.
     * An aborted test (an assumption that did not hold) is a skip, and an aborted container
     * counts the tests in it that never ran. A failed test or container is a failure.
     */
    static final class Tally implements TestExecutionListener {
        private volatile TestPlan plan;
        private final Set<String> reported = ConcurrentHashMap.newKeySet();
        private final List<TestIdentifier> failedIds = new ArrayList<>();
        private final List<Throwable> failedCauses = new ArrayList<>();
        private long passed;
        private long failed;
        private long skipped;

        @Override
        public void testPlanExecutionStarted(TestPlan testPlan) {
            this.plan = testPlan;
        }

        @Override
        public synchronized void executionSkipped(TestIdentifier id, String reason) {
            reported.add(id.getUniqueId());
            skipped += id.isTest() ? 1 : Math.max(1, unreportedTestsUnder(id));
        }

        @Override
        public synchronized void executionFinished(TestIdentifier id, TestExecutionResult result) {
            reported.add(id.getUniqueId());
            switch (result.getStatus()) {
                case SUCCESSFUL -> passed += id.isTest() ? 1 : 0;
                case ABORTED -> skipped += id.isTest() ? 1 : unreportedTestsUnder(id);
                case FAILED -> {
                    failed++;
                    failedIds.add(id);
                    failedCauses.add(result.getThrowable().orElse(null));
                }
            }
        }

        /** Tests under a container that never reported; a container with no children (e.g. a parameterized method) is one. */
        private long unreportedTestsUnder(TestIdentifier container) {
            TestPlan p = plan;
            if (p == null) {
                return 0;
            }
            long n = 0;
            for (TestIdentifier d : p.getDescendants(container)) {
                if ((d.isTest() || p.getChildren(d).isEmpty()) && !reported.contains(d.getUniqueId())) {
                    n++;
                }
            }
            return n;
        }

        synchronized long passed() {
            return passed;
        }

        synchronized long failed() {
            return failed;
        }

        synchronized long skipped() {
            return skipped;
        }

        /** The last line of a run: {@code N passed, N failed, N skipped}; alias build failures count as failures. */
        synchronized String summary(int buildFailures) {
            return passed + " passed, " + (failed + buildFailures) + " failed, " + skipped + " skipped";
        }

        /** 1 on any failure or when no test passed, else 0. */
        synchronized int exitCode(int buildFailures) {
            return failed + buildFailures > 0 || passed == 0 ? 1 : 0;
        }

        synchronized void printFailures(PrintWriter out) {
            for (int i = 0; i < failedIds.size(); i++) {
                TestIdentifier id = failedIds.get(i);
                out.println();
                out.println("FAILED " + id.getDisplayName() + " (" + id.getUniqueId() + ")");
                Throwable cause = failedCauses.get(i);
                if (cause != null) {
                    cause.printStackTrace(out);
                }
            }
            out.flush();
        }
    }

    /** One line per finished test, so a slow or hanging test is easy to spot. */
    static final class Progress implements TestExecutionListener {
        private final PrintWriter out;

        Progress(PrintWriter out) {
            this.out = out;
        }

        @Override
        public synchronized void executionFinished(TestIdentifier id, TestExecutionResult result) {
            if (id.isTest() || result.getStatus() != TestExecutionResult.Status.SUCCESSFUL) {
                String why = result.getStatus() == TestExecutionResult.Status.ABORTED
                        ? result.getThrowable().map(t -> ": " + String.valueOf(t.getMessage()).lines().findFirst().orElse(""))
                                .orElse("")
                        : "";
                out.println(result.getStatus() + "  " + id.getLegacyReportingName() + "  "
                        + id.getUniqueId().replaceAll(".*\\[class:([^\\]]*)\\].*", "$1") + why);
            }
        }

        @Override
        public synchronized void executionSkipped(TestIdentifier id, String reason) {
            out.println("SKIPPED  " + id.getDisplayName() + ": " + reason);
        }
    }
}
