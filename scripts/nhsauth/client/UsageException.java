package nhsauth.client;

/** Bad settings, files or formats (exit 2). */
public class UsageException extends NhsAuthException {
    public UsageException(String message) {
        this(message, null);
    }

    public UsageException(String message, Throwable cause) {
        super(NhsClient.ExitCode.USAGE, message, null, cause);
    }
}
