// `meridian ctl drain|undrain|status|reload`: one command to a running server over its
// control socket ([control] socket), its reply printed.
#pragma once

namespace meridian::server {

// argv holds what follows "ctl". Returns 0 when the server answered "ok", 1 when it answered
// an error or could not be reached, 2 on a usage error.
int ctl_command(int argc, char** argv);

}  // namespace meridian::server
