#include "dial.hpp"

#include "shoal/link/address.hpp"

namespace shoal::worker {

std::shared_ptr<link::Connection> open_connection(WorkerOptions& opt, const asio::any_io_executor& ex,
                                                  const std::shared_ptr<link::TlsContext>& tls, std::string& error) {
  if (opt.dial) {  // the embedding program's connection (the simulation's)
    auto conn = opt.dial();
    if (!conn) error = "no connection to the coordinator can be made now";
    return conn;
  }
  try {
    bool adopted = opt.adopted_fd >= 0;
    auto addr = adopted ? link::Address{} : link::parse_address(opt.coordinator);
    proto::Socket s = adopted ? link::adopt_socket(ex, opt.adopted_fd) : link::connect_socket(ex, addr);
    if (adopted) opt.adopted_fd = -2;  // used
    auto conn = link::Connection::over_socket(std::move(s));
    if (tls && !adopted && addr.kind == link::Address::Kind::tcp) conn->secure(tls, addr.host);
    return conn;
  } catch (const std::exception& e) {
    error = e.what();
    return nullptr;
  }
}

}  // namespace shoal::worker
