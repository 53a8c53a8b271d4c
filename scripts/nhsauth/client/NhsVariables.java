package nhsauth.client;

import java.nio.file.Path;
import java.util.Map;

/** The NHS_* environment variables, read into a client's settings as the commands read them. */
final class NhsVariables {
    private NhsVariables() {
    }

    /** Every setting the variables give; a bad value names its variable. */
    static void configure(NhsClient.Builder b, Map<String, String> vars) {
        b.apiKey(vars.get("NHS_API_KEY"));
        String env = NhsSetting.blankToNull(vars.get("NHS_ENV"));
        if (env != null) {
            b.environment(NhsEnvironment.parse(env, "NHS_ENV"));
        }
        b.auth(NhsAuthPattern.parseVariable(vars, "NHS_AUTH"));
        b.kid(vars.get("NHS_KID"));
        b.tokenUrl(vars.get("NHS_TOKEN_URL"));
        String key = NhsSetting.blankToNull(vars.get("NHS_PRIVATE_KEY"));
        String passphrase = vars.get("NHS_PRIVATE_KEY_PASSPHRASE");
        b.privateKey(key == null ? null : Path.of(key), passphrase == null ? null : passphrase.toCharArray());
        String seconds = NhsSetting.blankToNull(vars.get("NHS_TIMEOUT"));
        if (seconds != null) {
            b.timeout(NhsSetting.parseTimeout(seconds, "NHS_TIMEOUT"));
        }
        String ca = NhsSetting.blankToNull(vars.get("NHS_CA_CERT"));
        b.caCertificates(ca == null ? null : Path.of(ca));
        if (NhsSetting.isOn(vars.get("NHS_TOKEN_CACHE"))) {
            String dir = NhsSetting.blankToNull(vars.get("NHS_TOKEN_CACHE_DIR"));
            b.tokenCache(dir != null ? Path.of(dir) : NhsTokenCache.defaultDir(vars));
        }
        b.proxyVariables(vars);
    }
}
