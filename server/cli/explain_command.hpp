// `meridian explain`: how one query would be answered, and why, for the operator.
#pragma once

namespace meridian::server {

// argv after "explain": --config FILE NAME [TYPE] [--client IP] [--ecs PREFIX]. Returns the
// process exit code (0 answered, 1 config errors, 2 usage).
int explain_command(int argc, char** argv);

}  // namespace meridian::server
