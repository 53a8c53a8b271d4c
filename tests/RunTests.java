///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS org.junit.platform:junit-platform-launcher:1.14.1
//DEPS org.junit.jupiter:junit-jupiter-engine:5.14.1
//DEPS org.junit.jupiter:junit-jupiter-params:5.14.1
//SOURCES ../scripts/NhsAuth.java
//SOURCES TestSupport.java
//SOURCES GenerateKeysTest.java
//SOURCES EndToEndTest.java
//SOURCES LauncherTest.java
//SOURCES FakeServer.java
//SOURCES GetTokenTest.java
//SOURCES KeyFormatsTest.java
//SOURCES CallApiTest.java
//SOURCES VerifyKeysTest.java
//SOURCES TokenCacheTest.java
//SOURCES ReadmeTest.java
//SOURCES MockServerTest.java
//SOURCES BadInputMatrixTest.java
//SOURCES FaultsTest.java
//SOURCES KillMidWriteTest.java
//SOURCES SecretsTest.java
//SOURCES MockServerLoadTest.java
//SOURCES ForwardProxy.java
//SOURCES TestTls.java
//SOURCES TestInfraTest.java
//DESCRIPTION Runs every nhs-auth test and ends with the line 'N passed, N failed'

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClasspathRoots;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import org.junit.platform.engine.DiscoverySelector;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

/**
 * The test command: {@code ./jbang tests/RunTests.java [ClassName | ClassName#method ...]}.
 * With no argument it runs every test class compiled into this script.
 */
public class RunTests {

    public static void main(String... args) throws Exception {
        Path root = TestSupport.repoRoot();
        PrintWriter out = new PrintWriter(System.out, true);
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
                .configurationParameter("junit.jupiter.execution.parallel.enabled", "true")
                .configurationParameter("junit.jupiter.execution.parallel.mode.default", "same_thread")
                .configurationParameter("junit.jupiter.execution.parallel.mode.classes.default", "concurrent")
                .configurationParameter("junit.jupiter.execution.parallel.config.strategy", "fixed")
                .configurationParameter("junit.jupiter.execution.parallel.config.fixed.parallelism", "3")
                .build();
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener summary = new SummaryGeneratingListener();
        launcher.execute(request, summary, new Progress(out));

        TestExecutionSummary s = summary.getSummary();
        for (TestExecutionSummary.Failure f : s.getFailures()) {
            out.println();
            out.println("FAILED " + f.getTestIdentifier().getDisplayName() + " ("
                    + f.getTestIdentifier().getUniqueId() + ")");
            f.getException().printStackTrace(out);
        }
        long passed = s.getTestsSucceededCount();
        long failed = s.getTestsFailedCount() + s.getContainersFailedCount() + s.getTestsAbortedCount()
                + buildFailures;
        out.println();
        out.println(passed + " passed, " + failed + " failed, " + s.getTestsSkippedCount() + " skipped");
        out.flush();
        System.exit(failed > 0 || passed == 0 ? 1 : 0);
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
                out.println(result.getStatus() + "  " + id.getLegacyReportingName() + "  "
                        + id.getUniqueId().replaceAll(".*\\[class:([^\\]]*)\\].*", "$1"));
            }
        }

        @Override
        public synchronized void executionSkipped(TestIdentifier id, String reason) {
            out.println("SKIPPED  " + id.getDisplayName() + ": " + reason);
        }
    }
}
