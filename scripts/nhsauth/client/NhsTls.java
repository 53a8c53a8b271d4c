package nhsauth.client;

import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.*;
import java.security.cert.*;
import java.security.cert.Certificate;
import java.util.Collection;

import javax.net.ssl.*;

/** The JDK's trusted CAs plus the user's, for TLS-inspecting corporate proxies. */
final class NhsTls {
    private NhsTls() {
    }

    /**
     * The JDK's own TLS, set up when a handshake first needs it, so a plain-http run (a mock, a local gateway) never
     * loads the TLS classes nor the CA store. The HttpClient must be given SSLParameters, or it asks for them at once.
     */
    static SSLContext jdkDefaultsOnFirstUse() {
        return new SSLContext(new FirstUse(), null, "TLS") {
        };
    }

    private static final class FirstUse extends SSLContextSpi {
        private SSLContext real;

        private synchronized SSLContext real() {
            if (real == null) {
                try {
                    real = context(null);
                } catch (GeneralSecurityException e) {
                    throw new IllegalStateException("TLS is missing from this JDK", e);
                }
            }
            return real;
        }

        @Override protected void engineInit(KeyManager[] km, TrustManager[] tm, SecureRandom random) { }
        @Override protected SSLSocketFactory engineGetSocketFactory() { return real().getSocketFactory(); }
        @Override protected SSLServerSocketFactory engineGetServerSocketFactory() { return real().getServerSocketFactory(); }
        @Override protected SSLEngine engineCreateSSLEngine() { return real().createSSLEngine(); }
        @Override protected SSLEngine engineCreateSSLEngine(String host, int port) { return real().createSSLEngine(host, port); }
        @Override protected SSLSessionContext engineGetServerSessionContext() { return real().getServerSessionContext(); }
        @Override protected SSLSessionContext engineGetClientSessionContext() { return real().getClientSessionContext(); }
        @Override protected SSLParameters engineGetDefaultSSLParameters() { return real().getDefaultSSLParameters(); }
        @Override protected SSLParameters engineGetSupportedSSLParameters() { return real().getSupportedSSLParameters(); }
    }

    private static SSLContext context(TrustManager[] trust) throws GeneralSecurityException {
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, trust, null);
        return context;
    }

    /** The JDK's default trust manager: its CA store. */
    static X509ExtendedTrustManager jdkTrust() throws CertificateException {
        try {
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init((KeyStore) null);
            for (var tm : tmf.getTrustManagers()) {
                if (tm instanceof X509ExtendedTrustManager jdk) {
                    return jdk;
                }
            }
        } catch (GeneralSecurityException e) {
            throw new CertificateException("the JDK's trusted certificates cannot be loaded", e);
        }
        throw new CertificateException("the JDK has no X.509 trust manager");
    }

    static SSLContext sslContext(Path pemFile) {
        String where = NhsSetting.CA_CERT.named() + " '" + pemFile + "'";
        byte[] pem = NhsFiles.readText(pemFile, "CA certificate file").getBytes(StandardCharsets.UTF_8);
        try {
            KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
            store.load(null, null);
            int n = 0;
            for (X509Certificate c : jdkTrust().getAcceptedIssuers()) {
                store.setCertificateEntry("jdk-" + n++, c);
            }
            Collection<? extends Certificate> extra = CertificateFactory.getInstance("X.509")
                    .generateCertificates(new ByteArrayInputStream(pem));
            if (extra.isEmpty()) {
                throw new UsageException(where + " holds no certificate: give a PEM file with -----BEGIN CERTIFICATE-----");
            }
            for (var c : extra) {
                store.setCertificateEntry("user-" + n++, c);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(store);
            return context(tmf.getTrustManagers());
        } catch (CertificateException e) {
            throw new UsageException(where + " is not a PEM certificate (" + NhsFiles.reason(e)
                    + "): give the CA certificate in PEM form", e);
        } catch (IOException | GeneralSecurityException e) {
            throw new UsageException("cannot use " + where + ": " + NhsFiles.reason(e), e);
        }
    }
}

