#include "bh_common.h"
