// Actors keep state in one worker process; their calls run one at a time, in the order
// they were made, so an actor needs no lock. Ray's actors, with shoal's futures.

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include <shoal/cluster/local_cluster.hpp>

class Account {
 public:
  explicit Account(std::string owner) : owner_(std::move(owner)) {}
  std::int64_t deposit(std::int64_t amount) { return balance_ += amount; }
  std::int64_t withdraw(std::int64_t amount) {
    if (amount > balance_) throw shoal::ValueError(owner_ + " has only " + std::to_string(balance_));
    return balance_ -= amount;
  }
  std::int64_t balance() const { return balance_; }

 private:
  std::string owner_;
  std::int64_t balance_ = 0;
};
SHOAL_ACTOR(Account, shoal::init<std::string>, &Account::deposit, &Account::withdraw, &Account::balance)

int main() {
  shoal::LocalCluster local(2);
  auto& client = local.client();
  auto alice = client.spawn<Account>(std::string("alice"));
  std::vector<shoal::Future<std::int64_t>> deposits;
  for (int i = 1; i <= 100; ++i) deposits.push_back(alice.call(&Account::deposit, std::int64_t{i}));
  std::printf("after 100 deposits: %lld\n", static_cast<long long>(deposits.back().result()));  // 5050, in order
  try {
    alice.call(&Account::withdraw, std::int64_t{10000}).result();
  } catch (const shoal::ValueError& e) {
    std::printf("refused: %s\n", e.what());
  }
  std::printf("balance: %lld\n", static_cast<long long>(alice.call(&Account::balance).result()));
}
