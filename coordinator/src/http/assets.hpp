#pragma once
// The dashboard's files (coordinator/src/http/assets/), built into the binary by CMake
// (assets.cpp.in): nothing is fetched from the network at run time.

#include <string_view>

namespace shoal::coordinator::http_assets {

[[nodiscard]] std::string_view index_html();
[[nodiscard]] std::string_view app_js();
[[nodiscard]] std::string_view style_css();

}  // namespace shoal::coordinator::http_assets
