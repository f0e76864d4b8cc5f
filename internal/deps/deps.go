package deps

import (
	_ "github.com/BurntSushi/toml"
	_ "github.com/fclairamb/ftpserverlib"
	_ "github.com/jlaffaye/ftp"
	_ "github.com/rs/zerolog"
	_ "golang.org/x/crypto/ssh"
	_ "golang.org/x/crypto/ssh/agent"
	_ "golang.org/x/crypto/ssh/knownhosts"
	_ "golang.org/x/net/proxy"
	_ "golang.org/x/sys/unix"
	_ "golang.org/x/text/encoding/charmap"
)
