package nhsauth.client;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Collection;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/** The JDK's trusted CAs plus the user's, for TLS-inspecting corporate proxies. */
final class NhsTls {
    private NhsTls() {
    }

    /**
     * The JDK's own trust, loaded when a TLS handshake first needs it: the HttpClient builds
     * its SSL context up front, and a plain-http call (the mock server, a local gateway) never
     * needs the JDK's CA store read.
     */
    static SSLContext jdkDefaultsOnFirstUse() {
        try {
            return context(new JdkTrustOnFirstUse());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("TLS is missing from this JDK", e);
        }
    }

    private static SSLContext context(TrustManager... trust) throws GeneralSecurityException {
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, trust, null);
        return context;
    }

    /** Every check is the JDK default trust manager's own, hostname verification included. */
    private static final class JdkTrustOnFirstUse extends X509ExtendedTrustManager {
        private volatile X509ExtendedTrustManager jdk;

        private X509ExtendedTrustManager jdk() throws CertificateException {
            if (jdk == null) {
                jdk = jdkTrust();
            }
            return jdk;
        }

        @Override public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException { jdk().checkServerTrusted(chain, authType, engine); }
        @Override public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException { jdk().checkServerTrusted(chain, authType, socket); }
        @Override public void checkServerTrusted(X509Certificate[] chain, String authType)
                throws CertificateException { jdk().checkServerTrusted(chain, authType); }
        @Override public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException { jdk().checkClientTrusted(chain, authType, engine); }
        @Override public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException { jdk().checkClientTrusted(chain, authType, socket); }
        @Override public void checkClientTrusted(X509Certificate[] chain, String authType)
                throws CertificateException { jdk().checkClientTrusted(chain, authType); }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            try {
                return jdk().getAcceptedIssuers();
            } catch (CertificateException e) {
                return new X509Certificate[0];
            }
        }
    }

    /** The JDK's default trust manager: its CA store, the one every trust decision here starts from. */
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
                throw new NhsClient.UsageException(where + " holds no certificate: give a PEM file with -----BEGIN CERTIFICATE-----");
            }
            for (var c : extra) {
                store.setCertificateEntry("user-" + n++, c);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(store);
            return context(tmf.getTrustManagers());
        } catch (CertificateException e) {
            throw new NhsClient.UsageException(where + " is not a PEM certificate (" + NhsSetting.oneLine(e.getMessage())
                    + "): give the CA certificate in PEM form", e);
        } catch (IOException | GeneralSecurityException e) {
            throw new NhsClient.UsageException("cannot use " + where + ": " + NhsSetting.oneLine(e.getMessage()), e);
        }
    }
}

