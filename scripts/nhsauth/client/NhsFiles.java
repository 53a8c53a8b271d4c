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
    private NhsFiles() { }

    /** A small UTF-8 text file; every I/O failure a one-line usage error. */
    static String readText(Path file, String what) {
        byte[] bytes = readBytes(file, what);
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new UsageException(what + " '" + file + "' is not text: check you gave the right file");
        }
    }

    static byte[] readBytes(Path file, String what) {
        return readBytes(file, what, Integer.MAX_VALUE - 8);
    }

    /** A small file of at most {@code maxBytes} (a request body may be binary); every I/O failure a usage error. */
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
        return views.contains("posix") ? Protection.POSIX
                : views.contains("acl") && Files.getFileStore(existing).supportsFileAttributeView(AclFileAttributeView.class)
                ? Protection.ACL : Protection.NONE;
    }

    @FunctionalInterface
    interface Creation {
        Path create(FileAttribute<?>... attributes) throws IOException;
    }

    /** Creates folder {@code named}, or a file beside it, owner-only before anything is put in it. */
    static Path createOwnerOnly(Path named, boolean folder, Creation creation) throws IOException {
        switch (protectionOf(named.toAbsolutePath().getParent())) {
            case POSIX:
                return creation.create(PosixFilePermissions.asFileAttribute(
                        PosixFilePermissions.fromString(folder ? "rwx------" : "rw-------")));
            case ACL:
                // Not at creation: NTFS would merge in the folder's inheritable entries (the JDK cannot mark it protected).
                Path created = creation.create();
                try {
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

    /** {@code rwxr-x---} where the file system keeps POSIX permissions; else null. */
    static String posixMode(Path p, LinkOption... options) throws IOException {
        return protectionOf(p) != Protection.POSIX ? null
                : PosixFilePermissions.toString(Files.readAttributes(p, PosixFileAttributes.class, options).permissions());
    }

    /**
     * You, as user.name, not as the owner of a file made to find out: trusting a folder must not write in it.
     * Where they differ (new files owned by Administrators) the token cache misses; it never trusts more. Null: unknown.
     */
    private static UserPrincipal me(Path p) {
        try {
            return p.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName(System.getProperty("user.name"));
        } catch (IOException e) {
            return null;
        }
    }

    /** ssh's rule, on POSIX: refused if yours and open to group or others; a warning if another user owns it. */
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

    /** Why {@code p} is not yours alone, or null: no link, your own, no group/other bits or one ALLOW ACL entry for you. */
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
     * The bytes of a file yours alone and at most {@code maxBytes} long, else null. The JDK cannot read
     * attributes of an open channel, so the same file key by path before and after opening shows the file
     * opened is the file checked; swapping it twice takes the caller's private folder (on Windows, no file key).
     */
    static byte[] readIfPrivate(Path file, int maxBytes) throws IOException {
        Object before = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
        try (SeekableByteChannel channel = Files.newByteChannel(file,
                Set.of(StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))) {
            BasicFileAttributes after = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!Objects.equals(before, after.fileKey()) || privacyProblem(file, false) != null || after.size() > maxBytes) {
                return null;
            }
            byte[] bytes = Channels.newInputStream(channel).readNBytes(maxBytes + 1);
            return bytes.length > maxBytes ? null : bytes;
        }
    }

    /** Temporaries of {@code int-1.pem.pub} are {@code .int-1.<n>.tmp.pem.pub}: hidden, ending as it does for ignore rules. */
    private static String[] tmpName(Path target) {
        String name = target.getFileName().toString();
        int dot = name.indexOf('.', 1) > 0 ? name.indexOf('.', 1) : name.length();
        return new String[] {"." + name.substring(0, dot) + ".", ".tmp" + name.substring(dot)};
    }

    /** Deletes temporaries a killed run left: older than any write takes, so a concurrent run keeps its own. */
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
     * A file written in full, synced and given its final permissions beside its target, to be moved into
     * place: staging a whole set before committing any shrinks the half-old, half-new moment to a few renames.
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

        /** Without {@code replace}, fails if the target exists. */
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
                // No hard links (FAT, exFAT, SMB). Not ATOMIC_MOVE, which replaces an existing target; a plain move refuses it.
                Files.move(tmp, target);
            }
        }

        @Override
        public void close() throws IOException {
            Files.deleteIfExists(tmp);
        }
    }
}
