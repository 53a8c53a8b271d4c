package nhsauth.client;

import java.nio.file.Path;
import java.util.Map;

/** The NHS_* environment variables, read into a client's settings; each variable's name is in {@link NhsSetting}. */
final class NhsVariables {
    private NhsVariables() {
    }

    /** Every setting the variables give; a bad value names its variable. */
    static void configure(NhsClient.Builder b, Map<String, String> vars) {
        b.apiKey(get(vars, NhsSetting.API_KEY));
        String env = get(vars, NhsSetting.ENV);
        if (env != null) {
            b.environment(NhsEnvironment.parse(env, NhsSetting.ENV.variable()));
        }
        String auth = get(vars, NhsSetting.AUTH);
        b.auth(auth == null ? null : NhsAuthPattern.parse(auth, NhsSetting.AUTH.variable()));
        b.kid(get(vars, NhsSetting.KID));
        b.tokenUrl(get(vars, NhsSetting.TOKEN_URL));
        b.subjectToken(get(vars, NhsSetting.SUBJECT_TOKEN));
        String key = get(vars, NhsSetting.PRIVATE_KEY);
        String passphrase = vars.get(NhsSetting.PASSPHRASE.variable());
        b.privateKey(key == null ? null : Path.of(key), passphrase == null ? null : passphrase.toCharArray());
        String seconds = get(vars, NhsSetting.TIMEOUT);
        if (seconds != null) {
            b.timeout(NhsSetting.parseTimeout(seconds, NhsSetting.TIMEOUT.variable()));
        }
        String ca = get(vars, NhsSetting.CA_CERT);
        b.caCertificates(ca == null ? null : Path.of(ca));
        if (NhsSetting.isOn(vars.get(NhsSetting.TOKEN_CACHE.variable()))) {
            String dir = get(vars, NhsSetting.TOKEN_CACHE_DIR);
            b.tokenCache(dir != null ? Path.of(dir) : NhsTokenCache.defaultDir(vars));
        }
        b.proxyVariables(vars);
    }

    private static String get(Map<String, String> vars, NhsSetting setting) {
        return NhsSetting.blankToNull(vars.get(setting.variable()));
    }
}
