from appliance.entry import main

main()
