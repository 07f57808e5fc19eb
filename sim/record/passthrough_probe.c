/* A program whose output is every result and errno of the calls kvmsim record interposes, on things that
 * are not KVM (scripts/record-passthrough-test.sh runs it with and without the recorder and compares):
 * fd numbers, mapping placement relative to a reservation, failing calls' errnos; then a forked child that
 * makes its own calls and ends with _exit (as stress-ng's workers do), and a vfork child that _exits. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define SHOW(what, expr)                                        \
  do {                                                          \
    errno = 0;                                                  \
    long r_ = (long)(expr);                                     \
    printf("%s = %ld errno=%s\n", what, r_, strerror(errno));   \
  } while (0)

int main(void) {
  int fd = open("/dev/null", O_RDONLY);
  printf("open /dev/null = %d\n", fd);
  SHOW("open missing", open("/nonexistent/kvm", O_RDWR));
  SHOW("openat missing", openat(AT_FDCWD, "/nonexistent/kvm", O_RDWR | O_CLOEXEC));
  SHOW("ioctl FIONREAD on /dev/null", ioctl(fd, FIONREAD, &(int){0}));
  SHOW("ioctl bad fd", ioctl(12345, 0xae01, 0));
  int mfd = memfd_create("probe", MFD_CLOEXEC);
  printf("memfd_create = %d\n", mfd);
  SHOW("ftruncate", ftruncate(mfd, 1 << 20));
  SHOW("fallocate punch", fallocate(mfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096));
  SHOW("fallocate bad mode", fallocate(mfd, 0x1000, 0, 4096));
  char* res = mmap(NULL, 8 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  char* ram = mmap(res + (2 << 20), 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  printf("MAP_FIXED into the reservation at +%ld\n", (long)(ram - res));
  SHOW("mmap bad fd", mmap(NULL, 4096, PROT_READ, MAP_SHARED, 12345, 0) == MAP_FAILED);
  SHOW("madvise MERGEABLE", madvise(ram, 4 << 20, MADV_MERGEABLE));
  SHOW("madvise bad advice", madvise(ram, 4096, 12345));
  SHOW("mprotect", mprotect(ram, 4096, PROT_READ));
  SHOW("mprotect unaligned", mprotect(ram + 1, 4096, PROT_READ));
  SHOW("munmap", munmap(res, 8 << 20));
  SHOW("close memfd", close(mfd));
  SHOW("close twice", close(mfd));
  int again = open("/dev/null", O_RDONLY);
  printf("next fd = %d\n", again);
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    int cfd = memfd_create("child", 0);
    printf("child memfd_create = %d\n", cfd);
    SHOW("child ftruncate 3M", ftruncate(cfd, 3 << 20));
    SHOW("child close", close(cfd));
    fflush(stdout);
    _exit(5);
  }
  int status = 0;
  SHOW("waitpid fork child", waitpid(child, &status, 0) == child);
  printf("fork child exit status = %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  child = vfork();
  if (child == 0) _exit(6);
  SHOW("waitpid vfork child", waitpid(child, &status, 0) == child);
  printf("vfork child exit status = %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return 3;  /* the exit status comes back too */
}
