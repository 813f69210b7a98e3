#pragma once
/// \file
/// SHOAL_FIELDS: makes a user struct encodable in one line, next to its definition.
///
///     namespace geo {
///     struct Point { std::int64_t x = 0; std::int64_t y = 0; };
///     SHOAL_FIELDS(Point, x, y)
///     }  // namespace geo
///
/// Write it in the namespace of the type (it is found by argument-dependent lookup), after
/// the type, naming public data members. The struct is encoded as a tuple of its fields in
/// the order listed; its type name is the first argument as written ("Point") and its
/// schema lists the fields ("Point{x:int64,y:int64}"), so a function's signature hash
/// changes when a field is added, removed, renamed or retyped. Decoding needs the type to
/// be default-constructible. Up to 200 fields.

#include <concepts>
#include <cstddef>

namespace shoal::codec {

namespace detail {
/// The argument through which SHOAL_FIELDS's functions are found (by ADL on T).
template <typename T>
struct fields_tag {};
}  // namespace detail

/// A type described by SHOAL_FIELDS.
template <typename T>
concept HasFields = requires(detail::fields_tag<T> t) {
  { shoal_fields_count(t) } -> std::convertible_to<std::size_t>;
};

}  // namespace shoal::codec

// A bounded FOR_EACH over __VA_ARGS__ with C++20's __VA_OPT__ (4^4 = 256 rescans: one per
// field, so 64 fields are well within it).
#define SHOAL_DETAIL_PARENS ()
#define SHOAL_DETAIL_EXPAND(...) SHOAL_DETAIL_EXPAND4(SHOAL_DETAIL_EXPAND4(SHOAL_DETAIL_EXPAND4(SHOAL_DETAIL_EXPAND4(__VA_ARGS__))))
#define SHOAL_DETAIL_EXPAND4(...) SHOAL_DETAIL_EXPAND3(SHOAL_DETAIL_EXPAND3(SHOAL_DETAIL_EXPAND3(SHOAL_DETAIL_EXPAND3(__VA_ARGS__))))
#define SHOAL_DETAIL_EXPAND3(...) SHOAL_DETAIL_EXPAND2(SHOAL_DETAIL_EXPAND2(SHOAL_DETAIL_EXPAND2(SHOAL_DETAIL_EXPAND2(__VA_ARGS__))))
#define SHOAL_DETAIL_EXPAND2(...) SHOAL_DETAIL_EXPAND1(SHOAL_DETAIL_EXPAND1(SHOAL_DETAIL_EXPAND1(SHOAL_DETAIL_EXPAND1(__VA_ARGS__))))
#define SHOAL_DETAIL_EXPAND1(...) __VA_ARGS__
#define SHOAL_DETAIL_FOR_EACH(macro, T, ...) \
  __VA_OPT__(SHOAL_DETAIL_EXPAND(SHOAL_DETAIL_FOR_EACH_STEP(macro, T, __VA_ARGS__)))
#define SHOAL_DETAIL_FOR_EACH_STEP(macro, T, a, ...) \
  macro(T, a) __VA_OPT__(SHOAL_DETAIL_FOR_EACH_AGAIN SHOAL_DETAIL_PARENS(macro, T, __VA_ARGS__))
#define SHOAL_DETAIL_FOR_EACH_AGAIN() SHOAL_DETAIL_FOR_EACH_STEP

#define SHOAL_DETAIL_FIELD_COUNT(T, f) +1
#define SHOAL_DETAIL_FIELD_VISIT(T, f) shoal_visit(#f, &T::f);

/// Describes the public data members of `Type` to shoal::codec (see the file comment).
#define SHOAL_FIELDS(Type, ...)                                                                   \
  [[maybe_unused]] inline constexpr const char* shoal_fields_name(::shoal::codec::detail::fields_tag<Type>) { \
    return #Type;                                                                                 \
  }                                                                                               \
  [[maybe_unused]] inline constexpr std::size_t shoal_fields_count(::shoal::codec::detail::fields_tag<Type>) { \
    return 0 SHOAL_DETAIL_FOR_EACH(SHOAL_DETAIL_FIELD_COUNT, Type, __VA_ARGS__);                  \
  }                                                                                               \
  template <typename ShoalVisitor>                                                                \
  constexpr void shoal_fields_visit(::shoal::codec::detail::fields_tag<Type>, ShoalVisitor&& shoal_visit) { \
    (void)shoal_visit;                                                                            \
    SHOAL_DETAIL_FOR_EACH(SHOAL_DETAIL_FIELD_VISIT, Type, __VA_ARGS__)                            \
  }
