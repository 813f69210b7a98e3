#include <cstdio>
#include <shoal/shoal.hpp>

shoal::Coro<int> answer() {
  auto t = shoal::create_task([]() -> shoal::Coro<int> { co_return 21; }());
  int half = co_await t.wait();
  co_return half * 2;
}

int main() { std::printf("downstream: %d\n", shoal::run(answer())); }
