// Command userhub serves a user-management web application and its JSON
// API. Everything it does is decided in package cli; main only embeds the
// templates and static files, so the binary is the whole deployment.
package main

import (
	"embed"
	"io/fs"
	"os"

	"userhub/cli"
)

//go:embed templates/*.html static
var embedded embed.FS

func main() {
	templates, _ := fs.Sub(embedded, "templates") // fixed, embedded paths: cannot fail
	static, _ := fs.Sub(embedded, "static")
	os.Exit(cli.Run(os.Args[1:], cli.Assets{Templates: templates, Static: static}))
}
