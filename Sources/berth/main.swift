import BerthCLI
import Foundation

exit(BerthCommandLine.run(arguments: Array(CommandLine.arguments.dropFirst())))
