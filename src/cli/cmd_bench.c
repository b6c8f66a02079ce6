/* cmd_bench.c — placeholder while the command is written. */
#include "cli.h"
const char help_bench[] = "eva bench: not yet available\n";
int cmd_bench(int argc, char **argv) { (void)argc; (void)argv; return cli_error("bench", "not implemented yet"); }
