from embodied_rag.cli import main

raise SystemExit(main())
