/// The built-in Microsoft Graph simulator (see issue 3).
public enum GraphSimulatorModule {}
