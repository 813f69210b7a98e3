#include <cstdio>
#include <string>
#include <tuple>

#include <shoal/codec/codec.hpp>

int main() {
  std::tuple<int, std::string> v{42, "downstream"};
  auto back = shoal::codec::decode<std::tuple<int, std::string>>(shoal::codec::encode(v));
  std::printf("remote: %d %s\n", std::get<0>(back), std::get<1>(back).c_str());
  return back == v ? 0 : 1;
}
