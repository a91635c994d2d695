"""Where this setup step sits in JobRoutr's setup, in the words the console and the CLI use."""

from __future__ import annotations

#: This step of JobRoutr's setup, and the one Mark Complete lets JobRoutr go on to.
THIS_STEP = "Step 2: Connect QuickBooks"
NEXT_STEP = "Step 3: Build Service"
#: What to do once this step is marked complete.
GO_ON = f"go on to {NEXT_STEP} in JobRoutr"
#: Said after Mark Complete (the console's notice, `appliance onboarding --complete`).
MARKED_COMPLETE = f"Setup marked complete: {GO_ON}."
