/* The suite's PyTorch-peer step (docs/peers.md): bench/peers/torch_peers.py on the run directory,
 * when the Python it finds ($SEQMIX_PYTHON, else python3) imports torch; otherwise one line says
 * why none were measured and the suite goes on. peers.json is written atomically by the script; a
 * resumed suite keeps one that exists.
 *   seqmix suite --peers none           # skip the step
 *   SEQMIX_PYTHON=~/venv/bin/python seqmix suite
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cli.h"
#include "seqmix/json_io.h"
#include "smx_config.h"

extern char **environ;

static const char *python(void) {
  const char *p = getenv("SEQMIX_PYTHON");
  return p && *p ? p : "python3";
}

/* Runs argv with its stdout on our stderr (the suite's progress stream), or silenced. Returns the
 * exit status, or -1 when it could not start or did not exit. */
static int spawn_wait(char *const argv[], int quiet) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (quiet) {
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  } else {
    posix_spawn_file_actions_adddup2(&fa, 2, 1);
  }
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

void suite_peers(const char *dir, const char *device) {
  char path[4200];
  snprintf(path, sizeof path, "%s/peers.json", dir);
  if (smx_file_exists(path)) {
    fprintf(stderr, "seqmix suite: [2/6] PyTorch peers: %s exists, kept\n", path);
    return;
  }
  char *probe[] = {(char *)python(), "-c", "import torch", NULL};
  if (spawn_wait(probe, 1) != 0) {
    fprintf(stderr, "seqmix suite: [2/6] PyTorch peers: none (%s cannot import torch; set SEQMIX_PYTHON to a Python "
                    "that can)\n", python());
    return;
  }
  fprintf(stderr, "seqmix suite: [2/6] PyTorch peers on the %s -> %s\n", device, path);
  char script[4200];
  snprintf(script, sizeof script, "%s/bench/peers/torch_peers.py", SMX_SOURCE_DIR);
  char *argv[] = {(char *)python(), script, (char *)dir, "--device", (char *)device, NULL};
  int rc = spawn_wait(argv, 0);
  if (rc != 0)
    fprintf(stderr, "seqmix suite: the PyTorch peers exited with %d%s; the report shows what they measured\n", rc,
            smx_file_exists(path) ? "" : " and wrote nothing");
}
