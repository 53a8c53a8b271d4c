import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/**
 * The runner's counting and options, checked in-process: its listener runs the tagged sample
 * classes below through a launcher of their own (a test run leaves them out by their tag).
 */
class RunTestsTest {

    @Test
    void aSkippedClassCountsItsTestsAndAbortedTestsAreSkips() {
        RunTests.Tally tally = run(DisabledSample.class, MixedSample.class, AbortedBeforeAllSample.class);
        // DisabledSample: two tests and a parameterized method; MixedSample: one @Disabled, one
        // assumption not met; AbortedBeforeAllSample: two tests that never ran.
        assertEquals("1 passed, 1 failed, 7 skipped", tally.summary(0));
        assertEquals(1, tally.exitCode(0), "a failure fails the run");
    }

    @Test
    void aRunWhereEverythingIsSkippedIsNotASuccess() {
        RunTests.Tally tally = run(DisabledSample.class);
        assertEquals("0 passed, 0 failed, 3 skipped", tally.summary(0));
        assertEquals(1, tally.exitCode(0), "no test ran");
    }

    @Test
    void passingTestsAloneSucceedAndAliasBuildFailuresCountAsFailures() {
        RunTests.Tally tally = run(PassingSample.class);
        assertEquals("2 passed, 0 failed, 0 skipped", tally.summary(0));
        assertEquals(0, tally.exitCode(0));
        assertEquals("2 passed, 1 failed, 0 skipped", tally.summary(1));
        assertEquals(1, tally.exitCode(1));
    }

    @Test
    void theSummaryIsOneLineInTheDocumentedShape() {
        String line = run(MixedSample.class).summary(0);
        assertTrue(line.matches("\\d+ passed, \\d+ failed(, \\d+ skipped)?"), line);
    }

    @Test
    void theFailureReportNamesTheFailedTestAndItsCause() {
        StringWriter text = new StringWriter();
        run(MixedSample.class).printFailures(new PrintWriter(text));
        assertTrue(text.toString().contains("FAILED fails()"), text.toString());
        assertTrue(text.toString().contains("on purpose"), text.toString());
    }

    @Test
    void helpPrintsTheUsageLineAndExitsZero() {
        for (String help : List.of("--help", "-h")) {
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            assertEquals(0, RunTests.checkArguments(List.of(help), new PrintWriter(out), new PrintWriter(err)));
            assertEquals(RunTests.USAGE + System.lineSeparator(), out.toString());
            assertEquals("", err.toString());
        }
        assertTrue(RunTests.USAGE.startsWith("usage: "), RunTests.USAGE);
    }

    @Test
    void anUnknownOptionIsAUsageErrorWithExit2() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        assertEquals(2, RunTests.checkArguments(List.of("FaultsTest", "--bogus"), new PrintWriter(out),
                new PrintWriter(err)));
        assertEquals("", out.toString());
        assertTrue(err.toString().contains("--bogus") && err.toString().contains(RunTests.USAGE), err.toString());
    }

    @Test
    void classAndMethodNamesRunTheTests() {
        assertNull(RunTests.checkArguments(List.of("FaultsTest", "RunTestsTest#helpPrintsTheUsageLineAndExitsZero"),
                new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter())));
        assertNull(RunTests.checkArguments(List.of(), new PrintWriter(new StringWriter()),
                new PrintWriter(new StringWriter())));
    }

    /** Runs sample classes through a launcher of their own, sequentially, counted by the runner's tally. */
    private static RunTests.Tally run(Class<?>... classes) {
        RunTests.Tally tally = new RunTests.Tally();
        LauncherFactory.create().execute(LauncherDiscoveryRequestBuilder.request()
                .selectors(Arrays.stream(classes).map(c -> selectClass(c)).toList())
                .configurationParameter("junit.jupiter.execution.parallel.enabled", "false")
                .build(), tally);
        return tally;
    }

    // ------------------------------------------------------------------ samples, left out of test runs

    @Tag(RunTests.SAMPLE_TAG)
    @Disabled("switched off on purpose")
    static class DisabledSample {
        @Test
        void one() {
        }

        @Test
        void two() {
        }

        @ParameterizedTest
        @ValueSource(ints = {1, 2})
        void three(int i) {
        }
    }

    @Tag(RunTests.SAMPLE_TAG)
    static class MixedSample {
        @Test
        void passes() {
        }

        @Test
        @Disabled("not today")
        void skipped() {
        }

        @Test
        void fails() {
            fail("on purpose");
        }

        @Test
        void aborts() {
            assumeTrue(false, "not on this machine");
        }
    }

    @Tag(RunTests.SAMPLE_TAG)
    static class AbortedBeforeAllSample {
        @BeforeAll
        static void notHere() {
            assumeTrue(false, "nothing to run against");
        }

        @Test
        void a() {
        }

        @Test
        void b() {
        }
    }

    @Tag(RunTests.SAMPLE_TAG)
    static class PassingSample {
        @Test
        void a() {
        }

        @Test
        void b() {
        }
    }
}
