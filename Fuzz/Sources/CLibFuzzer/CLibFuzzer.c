// Only a header: LLVMFuzzerRunDriver is defined by libFuzzer itself.
#include "CLibFuzzer.h"
