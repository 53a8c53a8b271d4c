package nhsauth.client;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.*;
import java.nio.charset.*;
import java.nio.file.*;
import java.nio.file.attribute.*;
import java.time.Instant;
import java.util.*;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/** Reading the user's small files with one-line errors, and writing ours so that nothing is lost. */
final class NhsFiles {
    private NhsFiles() {
    }

    /** Reads a small text file, turning every I/O failure into a one-line usage error. */
    static String readText(Path file, String what) {
        byte[] bytes = readBytes(file, what);
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new UsageException(what + " '" + file + "' is not text: check you gave the right file");
        }
    }

    /** Reads a small file as bytes (a request body may be binary), every I/O failure a one-line usage error. */
    static byte[] readBytes(Path file, String what) {
        return readBytes(file, what, Integer.MAX_VALUE - 8);
    }

    /** {@link #readBytes(Path, String)} of at most {@code maxBytes}; a longer file is a usage error. */
    static byte[] readBytes(Path file, String what, int maxBytes) {
        try {
            if (Files.isDirectory(file)) {
                throw new UsageException(what + " '" + file + "' is a directory: give the path of a file");
            }
            byte[] bytes;
            try (var in = Files.newInputStream(file)) {
                bytes = in.readNBytes(maxBytes + 1);
            }
            if (bytes.length > maxBytes) {
                throw new UsageException(what + " '" + file + "' is over " + maxBytes + " bytes: check you gave the right file");
            }
            return bytes;
        } catch (NoSuchFileException e) {
            throw new UsageException(what + " '" + file + "' does not exist: check the path");
        } catch (AccessDeniedException e) {
            throw new UsageException(what + " '" + file + "' cannot be read: check its permissions");
        } catch (IOException e) {
            throw new UsageException("cannot read " + what + " '" + file + "': " + reason(e), e);
        }
    }

    /** What went wrong, in words: the system's reason; Java's class names are for --verbose's stack trace. */
    static String reason(Exception e) {
        return e instanceof NoSuchFileException ? "no such file or folder"
                : e instanceof AccessDeniedException ? "permission denied"
                : e instanceof FileAlreadyExistsException f ? "'" + f.getFile() + "' is in the way"
                : e instanceof FileSystemException f && f.getReason() != null ? f.getReason()
                : NhsSetting.oneLine(e.getMessage()).replaceAll("(\\b[a-z]\\w*\\.)+[A-Z]\\w*(Exception|Error): ", "");
    }

    /** How a filesystem keeps a file to its owner: POSIX permissions, an ACL (Windows), or not at all (FAT). */
    enum Protection { POSIX, ACL, NONE }

    static Protection protectionOf(Path existing) throws IOException {
        Set<String> views = existing.getFileSystem().supportedFileAttributeViews();
        if (views.contains("posix")) {
            return Protection.POSIX;
        }
        return views.contains("acl") && Files.getFileStore(existing).supportsFileAttributeView(AclFileAttributeView.class)
                ? Protection.ACL : Protection.NONE;
    }

    @FunctionalInterface
    interface Creation {
        Path create(FileAttribute<?>... attributes) throws IOException;
    }

    /**
     * Creates the folder {@code named}, or a file beside it, that only its owner can open before
     * anything is put in it; refused where the drive keeps neither POSIX permissions nor ACLs.
     */
    static Path createOwnerOnly(Path named, boolean folder, Creation creation) throws IOException {
        switch (protectionOf(named.toAbsolutePath().getParent())) {
            case POSIX:
                return creation.create(PosixFilePermissions.asFileAttribute(
                        PosixFilePermissions.fromString(folder ? "rwx------" : "rw-------")));
            case ACL:
                // Not an ACL given at creation: NTFS merges the folder's inheritable entries into it
                // (the JDK cannot mark it protected), so the file is restricted before it is written.
                Path created = creation.create();
                try {
                    // One ALLOW entry for the owner the filesystem recorded, inheriting nothing, inherited by nothing.
                    var view = Files.getFileAttributeView(created, AclFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
                    view.setAcl(List.of(AclEntry.newBuilder().setType(AclEntryType.ALLOW).setPrincipal(view.getOwner())
                            .setPermissions(EnumSet.allOf(AclEntryPermission.class)).build()));
                } catch (IOException | RuntimeException e) {
                    Files.deleteIfExists(created);
                    throw e;
                }
                return created;
            default:
                throw new UsageException("cannot keep '" + named + "' private: its drive keeps no file "
                        + "permissions or ACLs (FAT or exFAT?): choose a folder on another drive");
        }
    }

    /** Creates {@code dir} and every folder missing above it owner-only, whatever the umask, as ssh-keygen makes ~/.ssh. */
    static void createFolders(Path dir) throws IOException {
        Path folder = dir.toAbsolutePath();
        if (Files.isDirectory(folder) || folder.getParent() == null) {
            return;
        }
        createFolders(folder.getParent());
        try {
            createOwnerOnly(folder, true, attributes -> Files.createDirectory(folder, attributes));
        } catch (FileAlreadyExistsException e) {
            if (!Files.isDirectory(folder)) {
                throw e;
            } // else made by a run beside this one
        }
    }

    /** Its permissions, {@code rwxr-x---}, where its file system keeps POSIX ones; else null. */
    static String posixMode(Path p, LinkOption... options) throws IOException {
        return protectionOf(p) != Protection.POSIX ? null
                : PosixFilePermissions.toString(Files.readAttributes(p, PosixFileAttributes.class, options).permissions());
    }

    /**
     * You, as user.name, not as the owner of a file made to find out: trusting a folder must not write
     * in it. Where the two differ (a Windows account whose new files belong to the Administrators
     * group) the token cache misses; it never trusts more. Null if unknown.
     */
    private static UserPrincipal me(Path p) {
        try {
            return p.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName(System.getProperty("user.name"));
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * ssh's rule for every private key read: refused if it is yours and group or others have any
     * permission on it; a warning when another user owns it (ssh says nothing). POSIX only.
     */
    static void checkPrivateKey(Path key, Consumer<String> warnings) throws IOException {
        String mode = posixMode(key);
        UserPrincipal me = me(key);
        UserPrincipal owner = mode == null || me == null ? me : Files.getOwner(key);
        if (!Objects.equals(owner, me)) {
            warnings.accept("warning: private key file '" + key + "' belongs to " + owner.getName() + ", not to you ("
                    + me.getName() + "): that user can read and replace it");
        } else if (mode != null && !mode.endsWith("------")) {
            throw new UsageException("private key file '" + key + "' is open to others (" + mode
                    + "): make it yours alone with chmod 600, as ssh requires");
        }
    }

    /**
     * Why {@code p} is not yours alone, or null when it is: it must be a real file (or folder),
     * not a link, owned by you, with no permission for group or others (POSIX), or an ACL of
     * exactly one ALLOW entry, for you, with no inheritance flags (Windows).
     */
    static String privacyProblem(Path p, boolean folder) throws IOException {
        BasicFileAttributes basic = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (basic.isSymbolicLink()) {
            return "it is a symbolic link";
        }
        if (folder ? !basic.isDirectory() : !basic.isRegularFile()) {
            return folder ? "it is not a folder" : "it is not a regular file";
        }
        Protection protection = protectionOf(p);
        if (protection == Protection.NONE) {
            return "its drive keeps no file permissions or ACLs";
        }
        UserPrincipal me = me(p);
        if (me == null) {
            return "cannot tell which user you are (" + System.getProperty("user.name") + ")";
        }
        UserPrincipal owner = Files.getOwner(p, LinkOption.NOFOLLOW_LINKS);
        if (!owner.equals(me)) {
            return "it belongs to " + owner.getName() + ", not to you (" + me.getName() + ")";
        }
        if (protection == Protection.POSIX) {
            String mode = posixMode(p, LinkOption.NOFOLLOW_LINKS);
            return mode.endsWith("------") ? null : "others can open it (" + mode + ")";
        }
        List<AclEntry> acl = Files.getFileAttributeView(p, AclFileAttributeView.class, LinkOption.NOFOLLOW_LINKS).getAcl();
        for (AclEntry entry : acl) {
            if (!entry.principal().equals(owner)) {
                return "its ACL lets " + entry.principal().getName() + " in";
            }
            if (!entry.flags().isEmpty()) {
                return "its ACL has inheritance flags " + entry.flags();
            }
        }
        return acl.size() == 1 && acl.get(0).type() == AclEntryType.ALLOW ? null
                : "its ACL is not one ALLOW entry for you";
    }

    /**
     * The bytes of a file that is yours alone and at most {@code maxBytes} long, else null.
     * The JDK cannot read attributes through an open channel, so the file is opened without
     * following links and its file key is read by path just before and just after: the same key
     * means the file opened is the file checked, unless it was swapped twice in between, which
     * takes write access to the folder, a folder the caller has checked is yours alone.
     * (Windows reports no file key; there the folder check carries it.)
     */
    static byte[] readIfPrivate(Path file, int maxBytes) throws IOException {
        Object before = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
        try (SeekableByteChannel channel = Files.newByteChannel(file,
                Set.of(StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))) {
            BasicFileAttributes after = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!Objects.equals(before, after.fileKey()) || privacyProblem(file, false) != null || after.size() > maxBytes) {
                return null;
            }
            ByteBuffer buffer = ByteBuffer.allocate(maxBytes + 1);
            while (buffer.hasRemaining() && channel.read(buffer) >= 0) {
                // until the end, or one byte past the limit
            }
            return buffer.position() > maxBytes ? null : Arrays.copyOf(buffer.array(), buffer.position());
        }
    }

    /** Temporaries of {@code int-1.pem.pub} are {@code .int-1.<n>.tmp.pem.pub}: hidden, ending as it does for ignore rules. */
    private static String[] tmpName(Path target) {
        String name = target.getFileName().toString();
        int dot = name.indexOf('.', 1) > 0 ? name.indexOf('.', 1) : name.length();
        return new String[] {"." + name.substring(0, dot) + ".", ".tmp" + name.substring(dot)};
    }

    /**
     * Deletes the temporaries of {@code target} that a killed run left behind: those older than any
     * write takes, so a run writing the same file at the same time keeps its own.
     */
    static void removeStaleTemporaries(Path target) throws IOException {
        String[] name = tmpName(target);
        Pattern stale = Pattern.compile(Pattern.quote(name[0]) + "\\d+" + Pattern.quote(name[1]));
        try (var files = Files.newDirectoryStream(target.toAbsolutePath().getParent(),
                f -> stale.matcher(f.getFileName().toString()).matches())) {
            for (Path f : files) {
                if (Files.getLastModifiedTime(f).toInstant().isBefore(Instant.now().minusSeconds(600))) {
                    Files.deleteIfExists(f);
                }
            }
        }
    }

    /**
     * A file written in full, synced and given its final permissions beside its target, waiting
     * to be moved into place. Staging every file of a set before committing any shrinks the
     * moment a crash could leave the set half old, half new to a few renames.
     */
    record StagedFile(Path target, Path tmp) implements AutoCloseable {
        static StagedFile stage(Path target, byte[] content, boolean ownerOnly) throws IOException {
            Path dir = target.toAbsolutePath().getParent();
            String[] name = tmpName(target);
            Path tmp = ownerOnly
                    ? createOwnerOnly(target, false, attributes -> Files.createTempFile(dir, name[0], name[1], attributes))
                    : Files.createTempFile(dir, name[0], name[1]);
            try {
                if (!ownerOnly && protectionOf(dir) == Protection.POSIX) {
                    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
                }
                Files.write(tmp, content);
                try (FileChannel file = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                    file.force(true);
                }
                return new StagedFile(target, tmp);
            } catch (IOException | RuntimeException e) {
                Files.deleteIfExists(tmp);
                throw e;
            }
        }

        /** Moves the file into place; without {@code replace}, fails if the target exists. */
        void commit(boolean replace) throws IOException {
            if (replace) {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                return;
            }
            try {
                // A hard link is an atomic create-if-absent: rename would silently replace.
                Files.createLink(target, tmp);
            } catch (FileAlreadyExistsException e) {
                throw e;
            } catch (UnsupportedOperationException | FileSystemException e) {
                // No hard links here (FAT, exFAT, some SMB shares). Not ATOMIC_MOVE: with it the JDK
                // renames over an existing target on POSIX and asks Windows to replace it. A plain
                // move refuses an existing target: Windows' MoveFileEx itself fails if it exists,
                // POSIX checks just before rename(2).
                Files.move(tmp, target);
            }
        }

        /** Removes the temp file if it was not moved into place. */
        @Override
        public void close() throws IOException {
            Files.deleteIfExists(tmp);
        }
    }
}
