#pragma once
namespace dagrad {
inline constexpr const char* version = "0.1.0";
}
