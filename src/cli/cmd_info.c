/* cmd_info.c — placeholder while the command is written. */
#include "cli.h"
const char help_info[] = "eva info: not yet available\n";
int cmd_info(int argc, char **argv) { (void)argc; (void)argv; return cli_error("info", "not implemented yet"); }
