// Closes the region opened by isa_begin.h.
#pragma GCC pop_options
#undef DAGRAD_ISA_REGION
