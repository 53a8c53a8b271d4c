//DEPS org.bouncycastle:bcprov-jdk18on:1.87
//DEPS org.bouncycastle:bcpkix-jdk18on:1.87

import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * TLS for tests, made during the run: a test CA (its certificate written as PEM, for
 * {@code --cacert}), server certificates it signs (a good one for {@code localhost} and
 * {@code 127.0.0.1}, an expired one, one for the wrong host), one signed by a CA nobody trusts,
 * and HTTPS servers on 127.0.0.1 presenting any of them. Keys are EC P-256, quick to make; each
 * certificate is made once per instance, on first use.
 */
final class TestTls {

    /** A private key and the certificate chain a server presents with it, leaf first. */
    record Identity(PrivateKey key, List<X509Certificate> chain) {
        X509Certificate certificate() {
            return chain.get(0);
        }

        /** A server-side context presenting this identity. */
        SSLContext serverContext() throws GeneralSecurityException {
            char[] password = "test".toCharArray();
            KeyStore store = KeyStore.getInstance("PKCS12");
            try {
                store.load(null, null);
            } catch (IOException impossible) {
                throw new IllegalStateException(impossible);
            }
            store.setKeyEntry("server", key, password, chain.toArray(X509Certificate[]::new));
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(store, password);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(kmf.getKeyManagers(), null, null);
            return context;
        }
    }

    /** An HTTPS server on 127.0.0.1; {@link #close()} stops it and its threads. */
    static final class Server implements AutoCloseable {
        private final HttpsServer server;
        private final ExecutorService executor;

        private Server(HttpsServer server, ExecutorService executor) {
            this.server = server;
            this.executor = executor;
        }

        int port() {
            return server.getAddress().getPort();
        }

        /** {@code https://127.0.0.1:PORT} + path. */
        String url(String path) {
            return "https://127.0.0.1:" + port() + path;
        }

        /** {@code https://localhost:PORT} + path: the name the good certificate also carries. */
        String localhostUrl(String path) {
            return "https://localhost:" + port() + path;
        }

        HttpsServer server() {
            return server;
        }

        @Override
        public void close() {
            server.stop(0);
            executor.shutdownNow();
            try {
                executor.awaitTermination(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Duration DAY = Duration.ofDays(1);

    private final Path dir;
    private final KeyPair caKeys;
    private final X509Certificate ca;
    private final Path caPem;
    private Identity good;
    private Identity expired;
    private Identity wrongHost;
    private Identity unknownCa;

    /** Makes the test CA and writes its certificate to {@code dir/test-ca.pem}. */
    TestTls(Path dir) throws GeneralSecurityException, IOException {
        this.dir = dir;
        this.caKeys = newKeys();
        this.ca = caCertificate("CN=nhs-auth test CA", caKeys);
        this.caPem = writePem(dir.resolve("test-ca.pem"), ca);
        // Made here, not lazily: the test CA is in every test's path, the rest on demand.
    }

    /** The test CA's certificate. */
    X509Certificate ca() {
        return ca;
    }

    /** The PEM file holding the test CA's certificate, for {@code --cacert} or {@code NHS_CA_CERT}. */
    Path caPem() {
        return caPem;
    }

    /** Valid now, for DNS {@code localhost} and IP {@code 127.0.0.1} (and the name only a test proxy reaches), signed by the test CA. */
    synchronized Identity good() throws GeneralSecurityException {
        if (good == null) {
            Instant now = Instant.now();
            good = issue("CN=localhost", now.minus(Duration.ofHours(1)), now.plus(DAY), "localhost", "127.0.0.1",
                    ForwardProxy.ORIGIN);
        }
        return good;
    }

    /** Like {@link #good()}, but its validity ended yesterday. */
    synchronized Identity expired() throws GeneralSecurityException {
        if (expired == null) {
            Instant now = Instant.now();
            expired = issue("CN=localhost", now.minus(DAY.multipliedBy(30)), now.minus(DAY), "localhost", "127.0.0.1");
        }
        return expired;
    }

    /** Valid now and signed by the test CA, but only for {@code wrong.example}. */
    synchronized Identity wrongHost() throws GeneralSecurityException {
        if (wrongHost == null) {
            Instant now = Instant.now();
            wrongHost = issue("CN=wrong.example", now.minus(Duration.ofHours(1)), now.plus(DAY), "wrong.example");
        }
        return wrongHost;
    }

    /** For {@code localhost} and {@code 127.0.0.1}, valid now, but signed by another CA that nothing trusts. */
    synchronized Identity unknownCa() throws GeneralSecurityException {
        if (unknownCa == null) {
            KeyPair otherKeys = newKeys();
            X509Certificate other = caCertificate("CN=nhs-auth unknown test CA", otherKeys);
            KeyPair keys = newKeys();
            Instant now = Instant.now();
            X509Certificate leaf = leaf("CN=localhost", keys, now.minus(Duration.ofHours(1)), now.plus(DAY), other,
                    otherKeys, "localhost", "127.0.0.1");
            unknownCa = new Identity(keys.getPrivate(), List.of(leaf, other));
        }
        return unknownCa;
    }

    /**
     * A server certificate signed by the test CA with a fresh key; each name is a DNS name, or an
     * IP address SAN when it is an IPv4 literal.
     */
    Identity issue(String subject, Instant notBefore, Instant notAfter, String... names) throws GeneralSecurityException {
        KeyPair keys = newKeys();
        X509Certificate leaf = leaf(subject, keys, notBefore, notAfter, ca, caKeys, names);
        return new Identity(keys.getPrivate(), List.of(leaf));
    }

    /** A client context that trusts the test CA and nothing else. */
    SSLContext clientContext() throws GeneralSecurityException {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        try {
            trust.load(null, null);
        } catch (IOException impossible) {
            throw new IllegalStateException(impossible);
        }
        trust.setCertificateEntry("test-ca", ca);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, tmf.getTrustManagers(), null);
        return context;
    }

    /** Starts an HTTPS server on 127.0.0.1 (ephemeral port) presenting {@code identity}, {@code handler} on "/". */
    Server serve(Identity identity, HttpHandler handler) throws IOException, GeneralSecurityException {
        HttpsServer server = HttpsServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(identity.serverContext()));
        ExecutorService executor = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "test-tls-server");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.createContext("/", handler);
        server.start();
        return new Server(server, executor);
    }

    /** A PEM block: {@code -----BEGIN type-----}, base64 in 64-character lines, {@code -----END type-----}. */
    static String pem(String type, byte[] der) {
        String body = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der);
        return "-----BEGIN " + type + "-----\n" + body + "\n-----END " + type + "-----\n";
    }

    /** Writes a certificate as PEM to {@code file}; returns it. */
    static Path writePem(Path file, X509Certificate certificate) throws IOException, GeneralSecurityException {
        Files.writeString(file, pem("CERTIFICATE", certificate.getEncoded()), StandardCharsets.US_ASCII);
        return file;
    }

    /** The folder this instance writes to. */
    Path dir() {
        return dir;
    }

    // ------------------------------------------------------------------ building certificates

    private static KeyPair newKeys() throws GeneralSecurityException {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
        generator.initialize(new ECGenParameterSpec("secp256r1"));
        return generator.generateKeyPair();
    }

    private static X509Certificate caCertificate(String subject, KeyPair keys) throws GeneralSecurityException {
        Instant now = Instant.now();
        try {
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(new X500Name(subject), serial(),
                    Date.from(now.minus(DAY)), Date.from(now.plus(DAY.multipliedBy(30))), new X500Name(subject),
                    keys.getPublic());
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(keys.getPublic()));
            return sign(b, keys);
        } catch (IOException e) {
            throw new GeneralSecurityException(e);
        }
    }

    private static X509Certificate leaf(String subject, KeyPair keys, Instant notBefore, Instant notAfter,
            X509Certificate issuer, KeyPair issuerKeys, String... names) throws GeneralSecurityException {
        try {
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuer, serial(), Date.from(notBefore),
                    Date.from(notAfter), new X500Name(subject), keys.getPublic());
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
            b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(keys.getPublic()));
            b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(issuer));
            GeneralName[] sans = new GeneralName[names.length];
            for (int i = 0; i < names.length; i++) {
                boolean ip = names[i].matches("\\d{1,3}(\\.\\d{1,3}){3}");
                sans[i] = new GeneralName(ip ? GeneralName.iPAddress : GeneralName.dNSName, names[i]);
            }
            b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(sans));
            return sign(b, issuerKeys);
        } catch (IOException e) {
            throw new GeneralSecurityException(e);
        }
    }

    private static X509Certificate sign(X509v3CertificateBuilder builder, KeyPair issuerKeys)
            throws GeneralSecurityException {
        try {
            return new JcaX509CertificateConverter().getCertificate(
                    builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKeys.getPrivate())));
        } catch (OperatorCreationException e) {
            throw new GeneralSecurityException(e);
        }
    }

    private static BigInteger serial() {
        return new BigInteger(63, RANDOM).add(BigInteger.ONE);
    }
}
