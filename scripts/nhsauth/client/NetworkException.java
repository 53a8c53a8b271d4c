package nhsauth.client;

/** DNS, connect, TLS or timeout failure talking to the token endpoint or the API (exit 5). */
public class NetworkException extends NhsAuthException {
    private final boolean retryable;

    public NetworkException(String message, String hint, boolean retryable, Throwable cause) {
        super(NhsClient.ExitCode.NETWORK, message, hint, cause);
        this.retryable = retryable;
    }

    /** Whether resending could help: a refused or reset connection. */
    public boolean retryable() {
        return retryable;
    }
}
