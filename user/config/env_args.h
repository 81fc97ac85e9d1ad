/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Environment variables for container users: each SONDE_* variable below stands for a
 * flag, as if given before the command-line flags (so the command line wins for single
 * values and adds to repeatable ones):
 *   SONDE_CONFIG=FILE         --config FILE
 *   SONDE_LISTEN=ADDR:PORT    --listen ADDR:PORT
 *   SONDE_CAPTURE=MODE        --capture MODE
 *   SONDE_SELECT="R1 R2 ..."  --select R1 --select R2 ... (rules separated by spaces)
 *   SONDE_ROUTES_FILE=FILE    --routes-file FILE
 *   SONDE_VERBOSE=N           -v, N times
 */
#ifndef SONDE_ENV_ARGS_H
#define SONDE_ENV_ARGS_H

/*
 * Returns a new argv (argv[0], the flags from the environment read through getenv_fn,
 * then argv[1..]) and its count in *out_argc; NULL + errno on failure. free_env_args()
 * releases it. getenv_fn is getenv in production, a fake in tests.
 */
char **env_args(int argc, char **argv, char *(*getenv_fn)(const char *), int *out_argc);
void free_env_args(char **args);

#endif
