package nhsauth.client;

/** The token endpoint refused the client assertion or did not answer with a token (exit 3). */
public class TokenRequestException extends NhsAuthException {
    private final int status;
    private final String error;
    private final String errorDescription;
    private final String messageId;

    public TokenRequestException(int status, String error, String errorDescription, String messageId,
            String summary, String hint) {
        super(NhsClient.ExitCode.TOKEN_REFUSED, summary, hint, null);
        this.status = status;
        this.error = error;
        this.errorDescription = errorDescription;
        this.messageId = messageId;
    }

    /** HTTP status of the token endpoint's answer. */
    public int status() {
        return status;
    }

    /** The NHS {@code error} member, e.g. {@code invalid_request}; null if the answer was not NHS JSON. */
    public String error() {
        return error;
    }

    /** The NHS {@code error_description}, e.g. {@code Invalid 'kid' header in client_assertion JWT - no matching public key}. */
    public String errorDescription() {
        return errorDescription;
    }

    /** The NHS {@code message_id} that NHS support asks for. */
    public String messageId() {
        return messageId;
    }
}
