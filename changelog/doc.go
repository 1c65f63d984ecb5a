// Package changelog is wbarrier's durable change log: the file format, a
// Writer that appends change records and epoch seals to it, and a reader
// (Open, Log) that validates it and answers "what changed since epoch N".
//
// The daemon drains records from the kernel and appends them; when the
// kernel's epoch-closed marker for epoch N arrives (after the barrier, and
// after syncfs if the daemon does one), the daemon seals N. Sealing first
// makes every earlier frame durable (write, fsync), then writes the seal
// frame and fsyncs it: this is the durable checkpoint. After a
// crash, every sealed epoch is complete in the log; an epoch that is not
// sealed is "unknown", never "unchanged", and Changes tells the consumer to
// rescan.
//
// # File layout
//
// All integers are little-endian and unsigned unless said otherwise.
// Offsets are in bytes. A log is one or more segment files (see Segments
// below); each is a header followed by zero or more frames;
// the header length and every frame length are multiples of 8, so every
// frame starts at a multiple of 8 and its length field (4 bytes at the
// start of the frame) never straddles a 512-byte sector.
//
// CRC32C below is the CRC-32 with the Castagnoli polynomial 0x1EDC6F41
// (reflected 0x82F63B78), initial value 0xFFFFFFFF and final XOR
// 0xFFFFFFFF, as used by iSCSI, ext4 and btrfs; CRC32C("123456789") =
// 0xE3069283. "||" is concatenation.
//
// # Header
//
//	offset  size  field
//	0       8     magic: the bytes 57 42 4C 4F 47 00 00 01 ("WBLOG\0\0\x01")
//	8       2     version: 1 (FormatVersion)
//	10      2     flags: 0 (a reader rejects other values)
//	12      4     header_len: total header length, CRC and padding included
//	16      8     salt: random per file, seeds the frame CRC chain
//	24      8     created: creation time, int64 nanoseconds since 1970-01-01 UTC
//	32      4     dev: the watched superblock's device number (stat(2) st_dev encoding)
//	36      2     F: length of fs type
//	38      2     M: length of mount path
//	40      2     U: length of filesystem UUID (0 if unknown)
//	42      2     reserved: 0
//	44      F     fs type, e.g. "ext4" (bytes, no terminator)
//	44+F    M     mount path
//	44+F+M  U     filesystem UUID as text
//	...           zero padding up to header_len-4
//	header_len-4  4  header_crc = CRC32C(bytes [0, header_len-4))
//
// header_len = align8(44 + F + M + U + 4), where align8(n) rounds n up to a
// multiple of 8; a reader requires exactly this value (so at least 48). The
// header is written once, by Create, and never changes.
//
// A later segment's header has version 2 (SegmentVersion) and 40 more
// bytes before the strings, which then start at offset 84:
//
//	44      8     segment: its number N >= 1 (the file is FILE.N)
//	52      8     base: every record and seal of an epoch after base is in
//	              this segment or a later one
//	60      8     sealed: the last epoch sealed in the earlier segments (0: none)
//	68      8     next_seq: at least one past the seq of every record, and of
//	              every epoch-closed marker sealed, in the earlier segments
//	76      4     prev_crc: the crc of the last frame of segment N-1 (its
//	              header_crc if it has no frame)
//	80      4     reserved: 0
//	84      F+M+U the strings, as above
//
// and header_len = align8(84 + F + M + U + 4).
//
// Reading the header: fewer than 8 bytes or a different magic: not a log
// (ErrNotLog). A version other than 1 and 2: ErrVersion (checked before
// the CRC, since another version may lay the header out differently).
// Version 2 with segment 0 or a nonzero reserved field: ErrCorrupt. The file
// ending inside the header, an implausible header_len, a CRC mismatch,
// nonzero flags, reserved field or padding: a corrupt header (ErrCorrupt).
// The header is never "torn": Create writes it to a temporary file, fsyncs
// it, and only then links it into place.
//
// # Frames
//
// Frames start at offset header_len and follow each other with no gap.
//
//	offset  size  field
//	0       4     L: payload length in bytes (at most 1 MiB, MaxPayload)
//	4       2     type: 1 record, 2 seal, 3 generation, 4 unmount
//	6       2     reserved: 0
//	8       4     crc
//	12      L     payload
//	12+L    P     padding: P zero bytes, P = (8 - (12+L) % 8) % 8
//
// The frame occupies align8(12+L) bytes. Its crc chains it to everything
// before it:
//
//	crc = CRC32C(salt[8] || prev[4] || frame[0:8] || frame[12:align8(12+L)])
//
// salt is the header's salt (8 bytes, little-endian), prev is the crc of
// the previous frame, or header_crc for the first frame (4 bytes,
// little-endian), and the rest is the whole frame except its crc field:
// length, type, reserved, payload and padding. Because of the salt, a frame
// of another log file never validates; because of prev, a frame never
// validates anywhere but right after the frame it was written after, so
// stale frames of an older generation of the file, or frames replayed at
// another offset, are rejected.
//
// # Record payload (frame type 1)
//
// One change record (record.Record of type record.TypeChange). 56 fixed
// bytes, then the variable fields; L = 56 + H + P + N exactly.
//
//	offset    size  field
//	0         1     payload version: 1
//	1         1     flags: bit 0 handle present, bit 1 parent present,
//	                bit 2 range present (HasRange); other bits 0
//	2         2     reserved: 0
//	4         4     ops: record.Op bits (WBARRIER_OP_*)
//	8         8     seq
//	16        8     epoch
//	24        8     range offset (stored as given, even without bit 2)
//	32        8     range length (likewise)
//	40        4     handle type (0 without bit 0)
//	44        4     parent handle type (0 without bit 1)
//	48        2     H: handle length (0 without bit 0)
//	50        2     P: parent handle length (0 without bit 1)
//	52        2     N: name length
//	54        2     reserved: 0
//	56        H     handle bytes (open_by_handle_at(2) f_handle)
//	56+H      P     parent handle bytes
//	56+H+P    N     name: raw bytes of the directory entry name (not
//	                necessarily UTF-8); empty when the record has none
//
// A handle that is present may have zero bytes; that differs from absent.
//
// # Seal payload (frame type 2)
//
// The epoch-closed marker (record.TypeEpochClosed) as the log keeps it:
// epoch N is complete. The writer writes version 3, L = 44; a reader also
// accepts version 2, L = 32 (without start and start_prev), and version 1,
// L = 24 (without the seq either), which older writers wrote. L must be
// exactly the length of its version.
//
//	offset  size  field
//	0       1     payload version: 3 (or 2, or 1)
//	1       1     flags: bit 0 lossy (records of the epoch were lost); other bits 0
//	2       6     reserved: 0
//	8       8     epoch
//	16      8     records: the number of record frames of this epoch before
//	              this seal (a Writer reopened counts those in the segments
//	              it read: the last two)
//	24      8     seq: the seq of the epoch-closed marker (versions 2 and 3;
//	              0 if unknown: the kernel numbers records from 1)
//	32      8     start: the offset in this segment of the first record
//	              frame of an epoch after this seal's that comes before the
//	              seal; this seal's own offset if there is none; the offset
//	              of the segment's first frame after its restated generation
//	              (or after its header) if the first such record is in an
//	              earlier segment (version 3 only; a multiple of 8)
//	40      4     start_prev: the crc of the frame before start (the
//	              header_crc if none)
//
// start lets a reader of the epochs after N begin at the seal of N (see
// Index) without missing the records of N+1 that the kernel queued before
// it closed N. A reader that reads the frames before a version 3 seal
// checks start and start_prev against them: a mismatch is corruption,
// unless the seal's epoch is at most the base of the first segment read.
//
// The seq matters to a drain that resumes: the kernel gives markers seqs
// among the change records, and a restarted daemon asks for records from
// one past the greatest seq the log holds (Log.NextSeq). Without it, a log
// ending with seals (an idle daemon closing empty epochs) would resume
// before markers the kernel had already freed, and see a gap.
//
// # Generation payload (frame type 3)
//
// The watch the frames after it are of (see Generation): the kernel
// numbers each watch's epochs and seqs from 1, so a log that follows a
// watch made anew (a reboot, a module reload, an unwatch and a new watch)
// maps the new watch's epochs after everything it holds. L = 32.
//
//	offset  size  field
//	0       1     payload version: 1, 2 or 3
//	1       1     flags (version 2): bit 0 continuous, other bits 0; in
//	              version 1 a reserved byte, 0
//	2       2     reserved: 0
//	4       4     watch id
//	8       8     offset: log epoch = the watch's epoch + offset
//	16      8     load id: drawn by the module at load (WBARRIER_A_LOAD_ID)
//	24      4     dev: the watched superblock's device number then
//	28      4     reserved: 0
//
// A generation frame in a log that holds nothing yet (no record, seal or
// generation frame, segment 0) starts the first generation; the writer
// gives it offset 0. Any later one is a break: its offset is greater than
// every sealed epoch, every record's epoch and the offset of the generation
// before it, and it sets the log's next seq back to 0 (the new watch's seqs
// start again). The log's epoch equal to a break's offset (the watch's
// epoch 0, which never exists) is never sealed: it stands for what changed
// between the two watches, which is unknown. The first frame of a later
// segment restates the generation in force (the Writer writes it with the
// segment's header, so that a purge never removes the only frame naming
// the watch): it must equal that generation, or it is adopted if the
// segments that held it were removed; it is no break.
//
// The writer writes version 1 unless the generation is continuous, and
// version 2 then, so that a log without one stays readable by readers that
// know version 1 only; a version 2 payload has a flag set. A continuous
// generation (Generation.Continuous) is a break whose break epoch is known
// to be empty: the watch before it ended with a clean unmount that the log
// recorded (an unmount frame), and the new watch began at the mount of a
// filesystem found unchanged since. Its break epoch counts as sealed,
// complete and empty. The log cannot check the filesystem; it checks where
// the frame is: a continuous generation that is not restated directly
// follows an unmount frame (so it is never the log's first generation),
// and its offset is one past the last sealed epoch. Its restatement at the
// start of a later segment carries the flag too.
//
// # Unmount payload (frame type 4)
//
// The clean unmount of the watched filesystem (see Unmount), written after
// the last seal of a generation: the superblock or log fields a later
// watch compares the filesystem with. L = 56 (version 1), 64 (version 2,
// which adds the xfs log position) or 72 (version 3, which adds the btrfs
// generation); a payload is written in the lowest version that holds it.
// A reader reads all three.
//
//	offset  size  field
//	0       1     payload version: 1, 2 or 3
//	1       1     reserved: 0
//	2       2     mount count (ext2/3/4 s_mnt_count)
//	4       4     reserved: 0
//	8       8     KiB written over the filesystem's life (s_kbytes_written)
//	16      4     last superblock write (s_wtime), seconds since 1970
//	20      4     last mount (s_mtime), seconds since 1970
//	24      16    filesystem UUID (s_uuid)
//	40      16    filesystem type, e.g. "ext4": 1 to 16 bytes, NUL-padded
//	56      4     versions 2 and 3: xfs log cycle after the unmount record,
//	              not 0 in version 2; 0 in version 3 if none
//	60      4     versions 2 and 3: xfs log block after the unmount record
//	64      8     version 3: btrfs superblock generation after the unmount,
//	              not 0
//
// The mount count, KiB written and times are those of an ext2/3/4
// superblock, 0 for xfs and btrfs.
//
// An unmount frame comes where every epoch the log holds is sealed: after
// a seal, with no record of a later epoch before it, and with a seal of
// the generation in force (an epoch after its offset). The frame after it,
// if any, is a generation frame that is not a restatement: the next watch,
// continuous or not. A log that ends with an unmount frame tells the
// daemon that watches the filesystem next what it left (Log.Unmount).
//
// # Rules a valid log follows
//
// The writer guarantees these; a reader checks them, and a frame whose CRC
// is valid but that breaks one (or has an unknown type, a nonzero reserved
// field or flag bit, an unknown payload version, or lengths that do not
// add up) is corruption (ErrCorrupt) at that frame's offset, wherever it is.
//
//   - Seal epochs strictly increase. They may skip epochs (the daemon was
//     down, or lost a marker): a skipped epoch stays unsealed forever.
//   - A record's epoch is greater than the epoch of every seal before it.
//     Records of epoch N+1 may come before the seal of N (the kernel opens
//     N+1 before it closes N), and records of different open epochs may
//     interleave.
//   - A seal's records field equals the number of record frames of its
//     epoch before it.
//   - A record's or seal's epoch is greater than the offset of the
//     generation in force.
//   - An unmount frame and a continuous generation stand where the
//     sections above say.
//
// An epoch is complete if and only if the log holds its seal and the seal
// is not lossy, or it is the break epoch of a continuous generation; a
// sealed epoch without records is complete and empty.
//
// # Torn tail or corruption
//
// A reader walks the frames from header_len, checking each against the
// chain. A frame at offset p is invalid if fewer than 12 bytes remain, its
// first 8 bytes are zero, L > MaxPayload, the file ends before
// p+align8(12+L), or its crc does not match. At the first invalid frame
// the reader stops: nothing after it can be checked against the chain.
// Bytes [p, end of file) are then either a torn tail or corruption.
//
// The rule: they are corruption if and only if a valid seal lies after p,
// which proves that the frame at p had been made durable. Otherwise they
// are a torn tail. The argument: the writer writes a seal only after every
// frame before it was written and fsynced. So bytes before a seal that is
// on disk were durable, and damage to them is corruption; bytes after the
// last seal on disk may legitimately be in any state after a crash (any
// subset of the unsynced pages may have reached the disk, and the ones that
// did not read as zeros), so no damage there can be told from a torn
// write. Treating such damage as a torn tail loses only unsealed epochs,
// which consumers already treat as unknown: the rule never makes a reader
// trust an epoch whose records were lost.
//
// Since the chain is broken at p, a seal after p is checked against the
// crc stored in the frame before it. Precisely: the seal evidence exists if
// for some offset q >= p with q % 8 == 0, the 12 bytes at q read as a frame
// header A with type 1, 2, 3 or 4, reserved 0 and L_A <= MaxPayload, and at b =
// q + align8(12 + L_A) there is a whole frame B (within the file) with L =
// 24, 32 or 44 (40, 48 or 56 bytes), type 2, reserved 0, a valid seal payload, a
// seal epoch greater than the last seal epoch before p (if any), and crc
// equal to CRC32C(salt || crc field of A || B[0:8] || B[12:]). A random or stale
// frame passes this with probability about 2^-32.
//
// So a partial last frame, a bad CRC in the last frame(s), zeroed bytes or
// garbage at the end are a torn tail, while a damaged frame followed by
// any verifiable seal is corruption, reported with the offset p of the
// first invalid frame. One limit: if the damage is in the crc field or
// length of the frame right before the last seal of the file, that seal
// cannot be verified and the damage reads as a torn tail; the seal is lost
// and its epoch reads as unsealed (a rescan, not a wrong answer).
//
// Open reports a torn tail in Log.Recovery (offset p, byte count) and
// ignores it. OpenWriter repairs it before appending: it appends the bytes
// [p, end) to PATH.broken (raw, created with mode 0600 if absent, fsynced,
// and its directory fsynced if created), then truncates the log to p and
// fsyncs it. A crash between the two steps at worst copies the same bytes
// to PATH.broken twice. Corruption is never repaired: Open and OpenWriter
// return a *CorruptError and leave the file alone.
//
// A reader running while the writer appends sees frames still being
// written as a torn tail, never as corruption, since a seal is only ever
// written after the frames before it are complete.
//
// # Segments
//
// A log at path FILE is the segment files FILE (segment 0, version 1
// header) and FILE.000001, FILE.000002 ... (at least six digits, version 2
// header), numbered without gaps. The Writer appends to the last one only.
// With a segment size set (Writer.SetSegmentSize), Seal, once the seal is
// durable and the segment holds that many bytes or more, starts segment
// N+1: its header, whose prev_crc is the crc of the seal just written, goes
// to a temporary file that is fsynced, linked to its name, and the
// directory is fsynced, all before anything is appended to it. A crash
// leaves segment N+1 absent (and perhaps a temporary file, ignored) or
// complete with its header: either way a valid log, and the Writer goes on
// with the last segment it finds. Nothing is written to a segment once the
// next one exists.
//
// Every segment carries the log's identity (the same salt, dev, fs type,
// mount and UUID), and the CRC chain runs through all of them: the first
// frame of segment N+1 chains to its header_crc, which covers prev_crc,
// the crc of the last frame of segment N. A segment of another log, a
// stale one, or one put under another number never validates in place.
//
// Purge removes segments oldest first: segment K goes when segment K+1
// exists and its base is at most the epoch given (the slowest consumer's
// acknowledged epoch, see package consumer); the last segment
// never goes. The directory is fsynced after each removal: a crash in the
// middle leaves the newest segments, in order, without a gap.
// The log then starts with segment K+1 > 0, whose base says which epochs
// can no longer be answered: Changes since an epoch before base is a
// rescan. Records of epochs up to base may still be in it (an epoch may
// straddle a rotation: the kernel opens N+1 before it closes N), and the
// seal of such an epoch does not count its records.
//
// Reading a log (Open): the segment files are listed and read in order.
// Besides the checks of each file, these are corruption (ErrCorrupt,
// naming the file): a number missing between two segment files; a header
// whose number is not its file's, whose identity differs from the first
// segment's, whose prev_crc is not the crc the previous segment ends with,
// or whose sealed, next_seq or base do not match what the segments before
// it hold (sealed equal to their last seal, next_seq at least one past
// their last record and the seq of their last version 2 seal, base equal to the greater of that seal and the
// greatest epoch of their records after it); and a torn tail in any
// segment but the last. Only the last segment can have a torn tail, and
// OpenWriter cuts it into SEGMENT.broken. A segment removed by Purge while
// Open lists the files makes it list them again; once open, a segment is
// read to its end even if Purge removes it.
//
// A reader reads a frame at a time and holds only what the rules need (the
// last seal, the generation in force, the record counts of the epochs not
// sealed yet): Stream hands each frame to a Visitor once it has passed its
// checks. OpenSince starts where the epochs after N start (see Index), and
// OpenWriter reads the last two segments (the headers of the later one
// sum up what comes before).
//
// # Index
//
// Each segment SEGMENT may have an index, SEGMENT.idx, listing its seals:
//
//	offset  size  field
//	0       8     magic: the bytes 57 42 4C 4F 47 49 58 01 ("WBLOGIX\x01")
//	8       2     version: 1
//	10      6     reserved: 0
//	16      8     salt: the log's
//	24      8     segment: its number
//	32      24*n  entries, in the order of the seals:
//	              0   8  epoch of the seal
//	              8   8  offset of the seal frame in the segment
//	              16  4  crc of the frame before it (prev of the seal)
//	              20  4  CRC32C(salt || segment || bytes [0, 20) of the entry),
//	                     salt and segment 8 bytes little-endian each
//
// The Writer starts a segment's index with the segment and appends an entry
// once each seal is durable (the index is never fsynced); a partial last
// entry is ignored. OpenWriter rewrites the indexes of the segments it read,
// and a reader that read a segment before the last from its start because
// its index was missing, damaged or stale rewrites that index (new file,
// renamed into place); Purge removes a segment's index with it.
//
// The index is a hint, never trusted over the log. A reader of the epochs
// after N (OpenSince) starts at the last segment K whose header's base is
// at most N (the first segment if none), finds in K's index the entry with
// the greatest epoch E <= N, and uses it only if E >= K's base and the
// segment holds, at the entry's offset, a seal frame of epoch E and version
// 3 whose crc is valid with the entry's crc as prev, and whose start lies
// between the segment's first frame and the seal. It then reads from start,
// with start_prev as the chain's prev: the frames up to the seal must chain
// to it (an invalid one, with the valid seal after it, is corruption), hold
// no seal of E or later, no unmount frame and no generation frame (but the
// restated one at the segment's start); of their records, only those of epochs after E are
// taken (and counted for their seals). From the seal on, the read goes on
// as any read. Otherwise it reads K from its start. docs/changes.md gives
// the argument that this answers every range after N as a full read does.
package changelog
