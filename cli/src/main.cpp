// The `shoal` command: everything is in shoal_cli_lib (commands.hpp).
#include "commands.hpp"

int main(int argc, char** argv) { return shoal::cli::run_main(argc, argv); }
