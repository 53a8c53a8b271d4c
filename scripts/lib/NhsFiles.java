import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/** Reading the user's small files with one-line errors, and writing ours so that nothing is lost. */
final class NhsFiles {
    private NhsFiles() {
    }

    static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");
    static final Set<PosixFilePermission> WORLD_READABLE = PosixFilePermissions.fromString("rw-r--r--");

    /** Reads a small text file, turning every I/O failure into a one-line usage error. */
    static String readText(Path file, String what) {
        byte[] bytes = readBytes(file, what);
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new NhsClient.UsageException(what + " '" + file + "' is not text: check you gave the right file");
        }
    }

    /** Reads a small file as bytes (a request body may be binary), every I/O failure a one-line usage error. */
    static byte[] readBytes(Path file, String what) {
        try {
            if (Files.isDirectory(file)) {
                throw new NhsClient.UsageException(what + " '" + file + "' is a directory: give the path of a file");
            }
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new NhsClient.UsageException(what + " '" + file + "' does not exist: check the path");
        } catch (AccessDeniedException e) {
            throw new NhsClient.UsageException(what + " '" + file + "' cannot be read: check its permissions");
        } catch (IOException e) {
            throw new NhsClient.UsageException("cannot read " + what + " '" + file + "': " + NhsSetting.oneLine(e.getMessage()));
        }
    }

    /**
     * Writes a file so that no reader ever sees it half-written: a temp file in the same folder,
     * created with its final permissions, then moved into place. Without {@code replace} an
     * existing file is never touched, even if it appears while we write.
     */
    static void writeAtomically(Path target, byte[] content, boolean ownerOnly, boolean replace)
            throws IOException {
        try (StagedFile staged = StagedFile.stage(target, content, ownerOnly)) {
            staged.commit(replace);
        }
    }

    /**
     * A file written in full, synced and given its final permissions beside its target, waiting
     * to be moved into place. Staging every file of a set before committing any shrinks the
     * moment a crash could leave the set half old, half new to a few renames.
     */
    static final class StagedFile implements AutoCloseable {
        private final Path target;
        private final Path tmp;

        private StagedFile(Path target, Path tmp) {
            this.target = target;
            this.tmp = tmp;
        }

        static StagedFile stage(Path target, byte[] content, boolean ownerOnly) throws IOException {
            Path dir = target.toAbsolutePath().getParent();
            Path tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp",
                    PosixFilePermissions.asFileAttribute(OWNER_ONLY));
            try {
                Files.write(tmp, content);
                if (!ownerOnly) {
                    Files.setPosixFilePermissions(tmp, WORLD_READABLE);
                }
                try (var channel = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                    channel.force(true);
                }
                return new StagedFile(target, tmp);
            } catch (IOException | RuntimeException e) {
                Files.deleteIfExists(tmp);
                throw e;
            }
        }

        /** Moves the file into place; without {@code replace}, fails if the target exists. */
        public void commit(boolean replace) throws IOException {
            if (replace) {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } else {
                // A hard link is an atomic create-if-absent: rename would silently replace.
                Files.createLink(target, tmp);
            }
        }

        /** Removes the temp file if it was not moved into place. */
        @Override
        public void close() throws IOException {
            Files.deleteIfExists(tmp);
        }
    }
}
