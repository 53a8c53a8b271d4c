package nhsauth.client;

import java.util.*;

/** Every check of {@link NhsClient.Builder#diagnose}, in order. */
public record Diagnosis(List<Diagnosis.Check> checks) {
    /**
     * One link of the chain: what was checked, {@code passed}, {@code failed} or {@code skipped}, what was found, any
     * fix, and the exit code of its failure (0 when it passed or was skipped).
     */
    public record Check(String name, String status, String found, String fix, int exitCode) {
        static Check passed(String name, String found) {
            return new Check(name, "passed", found, null, NhsClient.ExitCode.OK);
        }

        static Check skipped(String name, String why) {
            return new Check(name, "skipped", why, null, NhsClient.ExitCode.OK);
        }

        static Check failed(String name, int exitCode, String found, String fix) {
            return new Check(name, "failed", found, fix, exitCode);
        }

        public boolean isFailed() {
            return status.equals("failed");
        }
    }

    /** The exit code of the first failed check; 0 when none failed. */
    public int exitCode() {
        return checks.stream().filter(Check::isFailed).map(Check::exitCode).findFirst().orElse(NhsClient.ExitCode.OK);
    }

    /** The checks as an indented JSON array of {check, status, found, fix, exit_code}. */
    public String toJson() {
        return NhsJson.pretty(checks.stream().map(c -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("check", c.name());
            m.put("status", c.status());
            m.put("found", c.found());
            m.put("fix", c.fix());
            m.put("exit_code", c.exitCode());
            return m;
        }).toList());
    }
}
