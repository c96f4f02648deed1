return await Marquee.Cli.MarqueeCommandLine.RunAsync(args);
