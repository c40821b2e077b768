// The state room reaching up into http: the check must refuse this tree.
#include "daemon/http/route.hpp"
