// kvmsim command line (placeholder entry point replaced by the CLI in sim/cli.cpp).
#include <cstdio>
int main() {
  std::printf("kvmsim " KVMSIM_VERSION " (" KVMSIM_GIT_HASH ")\n");
  return 0;
}
