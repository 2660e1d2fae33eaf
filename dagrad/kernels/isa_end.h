// Closes the region opened by isa_begin.h.
#if defined(__clang__)
#if DAGRAD_ISA_LEVEL > 0
#pragma clang attribute pop
#endif
#else
#pragma GCC pop_options
#endif
#undef DAGRAD_ISA_REGION
