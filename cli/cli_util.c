/* Option parsing and error lines for the seqmix subcommands (cli.h). One bad option or value is
 * one line on stderr and exit status 2. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int cli_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("seqmix: error: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return SMX_EXIT_USAGE;
}

int cli_fail(smx_status s) {
  fprintf(stderr, "seqmix: error: %s\n", smx_last_error());
  return smx_status_exit_code(s);
}

int cli_parse(const char *cmd, int argc, char **argv, const cli_opt *opts, int *help) {
  *help = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      *help = 1;
      continue;
    }
    if (strncmp(a, "--", 2) != 0)
      return cli_error("seqmix %s: unexpected argument '%s' (see seqmix %s --help)", cmd, a, cmd);
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const cli_opt *o = NULL;
    for (const cli_opt *p = opts; p->name; p++)
      if (strlen(p->name) == len && strncmp(p->name, name, len) == 0) o = p;
    if (!o) return cli_error("seqmix %s: unknown option '--%.*s' (see seqmix %s --help)", cmd, (int)len, name, cmd);
    if (!o->arg) {
      if (eq) return cli_error("seqmix %s: option --%s takes no value", cmd, o->name);
      *o->flag = 1;
      continue;
    }
    if (eq) {
      *o->value = eq + 1;
    } else {
      if (i + 1 >= argc) return cli_error("seqmix %s: option --%s needs a value (%s)", cmd, o->name, o->arg);
      *o->value = argv[++i];
    }
  }
  return 0;
}

void cli_usage(const char *cmd, const char *synopsis, const char *description, const cli_opt *opts) {
  printf("usage: seqmix %s %s\n\n%s\n\noptions:\n", cmd, synopsis, description);
  for (const cli_opt *p = opts; p->name; p++) {
    char left[64];
    snprintf(left, sizeof left, "--%s%s%s", p->name, p->arg ? " " : "", p->arg ? p->arg : "");
    printf("  %-24s %s\n", left, p->help);
  }
  printf("  %-24s %s\n", "--help", "show this help");
}

int cli_int(const char *opt, const char *text, long lo, long hi, long *out) {
  errno = 0;
  char *end = NULL;
  long v = strtol(text, &end, 10);
  if (!*text || *end || errno == ERANGE || v < lo || v > hi)
    return cli_error("--%s %s is not an integer in %ld..%ld", opt, text, lo, hi);
  *out = v;
  return 0;
}

int cli_double(const char *opt, const char *text, double lo, double hi, double *out) {
  errno = 0;
  char *end = NULL;
  double v = strtod(text, &end);
  if (!*text || *end || errno == ERANGE || !(v >= lo && v <= hi))
    return cli_error("--%s %s is not a number in %g..%g", opt, text, lo, hi);
  *out = v;
  return 0;
}

int cli_check_writable(const char *cmd, const char *path, const char *what) {
  char dir[4096];
  const char *slash = strrchr(path, '/');
  if (!*path) return cli_error("%s: %s is empty", cmd, what);
  if (strlen(path) >= sizeof dir) return cli_error("%s: %s path too long", cmd, what);
  if (!slash) snprintf(dir, sizeof dir, ".");
  else if (slash == path) snprintf(dir, sizeof dir, "/");
  else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
  struct stat st;
  if (stat(dir, &st) != 0) return cli_error("%s: cannot write %s %s: its folder %s does not exist", cmd, what, path, dir);
  if (!S_ISDIR(st.st_mode) || access(dir, W_OK) != 0)
    return cli_error("%s: cannot write %s %s: %s is not a writable folder", cmd, what, path, dir);
  return 0;
}
