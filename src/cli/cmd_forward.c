/* cmd_forward.c — placeholder while the command is written. */
#include "cli.h"
const char help_forward[] = "eva forward: not yet available\n";
int cmd_forward(int argc, char **argv) { (void)argc; (void)argv; return cli_error("forward", "not implemented yet"); }
