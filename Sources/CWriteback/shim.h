#ifndef HMPIPE_CWRITEBACK_SHIM_H
#define HMPIPE_CWRITEBACK_SHIM_H
/* Linux's sync_file_range, which Swift's Glibc module does not offer. Starting the writeback of the
   pages just written, without waiting for it, lets the disk work while the next ones are compressed:
   the fsync before an object goes into place then waits for little more than the tail. */
extern int sync_file_range(int fd, long offset, long nbytes, unsigned int flags);
static inline int hmpipe_start_writeback(int fd, long offset, long nbytes) {
  return sync_file_range(fd, offset, nbytes, 2 /* SYNC_FILE_RANGE_WRITE */);
}
#endif
